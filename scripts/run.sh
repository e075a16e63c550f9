#!/usr/bin/env bash
# run.sh — the README's first command: installs what is missing, builds, applies
# the schemas (built-ins + examples/schemas) to the embedded SQLite databases
# under ./data/, and runs the server in the foreground (Ctrl-C stops it).
# Extra arguments go to `stagebridge serve` (e.g. --listen 127.0.0.1:9090).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
export CCACHE_BASEDIR="$PWD" CCACHE_NOHASHDIR=1
cmake --preset default -DSTAGEBRIDGE_TESTS=OFF >/dev/null
cmake --build --preset default
./build/stagebridge --config stagebridge.toml schema apply
exec ./build/stagebridge --config stagebridge.toml serve "$@"
