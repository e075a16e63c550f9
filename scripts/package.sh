#!/usr/bin/env bash
# package.sh — builds the Debian package: installs what is missing (dpkg-dev for
# dpkg-shlibdeps), configures a plain Release build (no preset, no tests, install
# prefix /usr) in build-package/, builds it (incrementally, with ccache) and runs
# `cpack -G DEB` (packaging/CMakeLists.txt). Prints the path of the .deb
# (build-package/stagebridge_VERSION_amd64.deb) as its last line.
#   scripts/package.sh [BUILD_DIR]
# One run at a time per build directory (a lock in it); a second run waits.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh --package
export CCACHE_BASEDIR="$PWD" CCACHE_NOHASHDIR=1
dir=${1:-build-package}
mkdir -p "$dir"
exec 9>"$dir/.package.lock"
flock 9

cmake -S . -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_INSTALL_PREFIX=/usr \
  -DSTAGEBRIDGE_TESTS=OFF >/dev/null
cmake --build "$dir"
rm -f "$dir"/stagebridge_*.deb
(cd "$dir" && cpack -G DEB >/dev/null)
debs=("$dir"/stagebridge_*.deb)
if [[ ${#debs[@]} -ne 1 || ! -f ${debs[0]} ]]; then
  echo "package.sh: cpack made no stagebridge_*.deb in $dir" >&2
  exit 1
fi
echo "package.sh: built $(realpath "${debs[0]}")"
