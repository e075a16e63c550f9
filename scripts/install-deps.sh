#!/usr/bin/env bash
# install-deps.sh — installs the Debian packages stagebridge needs, if missing.
#   scripts/install-deps.sh          build and run (embedded SQLite default)
#   scripts/install-deps.sh --package  also what scripts/package.sh needs (dpkg-shlibdeps)
#   scripts/install-deps.sh --test   also what the test suite needs (PostgreSQL 15, linters,
#                                    and the package test's)
# Uses apt-get (with sudo when not root). Nothing is downloaded from anywhere else.
set -euo pipefail

packages=(g++ cmake ninja-build ccache pkg-config
  libboost1.81-dev libpugixml-dev libpq-dev libsqlite3-dev libsodium-dev libssl-dev
  libspdlog-dev libfmt-dev libcli11-dev libtoml11-dev libmozjs-102-dev sqlite3)
# dpkg-dev: dpkg-shlibdeps, which CPack runs for the package's Depends; file: CPack
# finds the executables with it.
if [[ "${1:-}" == "--package" || "${1:-}" == "--test" ]]; then
  packages+=(dpkg-dev file)
fi
if [[ "${1:-}" == "--test" ]]; then
  packages+=(libgtest-dev libgmock-dev libbenchmark-dev postgresql-15 postgresql-client-15
    clang-format clang-tidy clang libclang-rt-14-dev python3 util-linux curl nodejs wrk postgresql-contrib
    gnuplot-nox time openssl  # openssl: the TLS tests and bench scenario 8 make their certificates
    haproxy)                  # scripts/cluster.sh: tests/cluster and bench scenario 9
  # npm: Debian's nodejs needs the npm package; a NodeSource nodejs bundles npm.
  command -v npm >/dev/null 2>&1 || packages+=(npm)
  # tests/console: the operator console in Debian's headless Chromium, driven by selenium
  packages+=(chromium chromium-driver python3-selenium)
fi

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
if ((${#missing[@]} == 0)); then
  exit 0
fi
echo "install-deps: installing ${missing[*]}" >&2
sudo=()
if [[ $(id -u) -ne 0 ]]; then sudo=(sudo); fi
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -qq
"${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
