#!/usr/bin/env bash
# run.sh BACKEND — the client end-to-end tests (acc-js-sdk 1.2.0, node-soap, raw
# HTTP) against a real stagebridge server on one backend (sqlite | postgres).
# Installs the npm packages pinned by package-lock.json (`npm ci`) when
# node_modules/ is missing or was installed from another lock file, then runs
# Node's built-in test runner on every *.test.mjs file. Exits non-zero on any
# failure.
# Needs: STAGEBRIDGE_BIN (the executable), STAGEBRIDGE_SOURCE_DIR (the source tree,
# for examples/schemas); for postgres STAGEBRIDGE_TEST_PG_URL
# (scripts/with-postgres.sh sets it). Node.js >= 20.19 and npm; the sqlite3 and
# psql command-line tools.
set -euo pipefail

if [[ $# -ne 1 || ($1 != sqlite && $1 != postgres) ]]; then
  echo "usage: $0 sqlite|postgres" >&2
  exit 2
fi
backend=$1
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$here"

: "${STAGEBRIDGE_BIN:?STAGEBRIDGE_BIN is not set (the stagebridge executable)}"
: "${STAGEBRIDGE_SOURCE_DIR:?STAGEBRIDGE_SOURCE_DIR is not set (the source tree)}"
if [[ $backend == postgres ]]; then
  : "${STAGEBRIDGE_TEST_PG_URL:?STAGEBRIDGE_TEST_PG_URL is not set: run through scripts/with-postgres.sh}"
fi
for tool in node npm; do
  command -v "$tool" >/dev/null || { echo "run.sh: $tool not found (Node.js >= 20.19 is needed)" >&2; exit 1; }
done
tool=sqlite3
[[ $backend == postgres ]] && tool=psql
command -v "$tool" >/dev/null || { echo "run.sh: $tool not found" >&2; exit 1; }

# Install under a lock: ctest may run clients/sqlite and clients/postgres at once.
# node_modules/.stagebridge-lock.sha256 records the lock file it was installed from.
lock="${TMPDIR:-/tmp}/stagebridge-clients-npm-$(printf '%s' "$here" | sha256sum | cut -c1-16).lock"
(
  flock -w 600 9 || { echo "run.sh: could not lock $lock" >&2; exit 1; }
  want="$(sha256sum package-lock.json | cut -d' ' -f1)"
  have="$(cat node_modules/.stagebridge-lock.sha256 2>/dev/null || true)"
  if [[ ! -d node_modules || "$want" != "$have" ]]; then
    echo "run.sh: npm ci (node_modules missing or stale)" >&2
    npm ci --no-audit --no-fund >&2
    echo "$want" >node_modules/.stagebridge-lock.sha256
  fi
) 9>"$lock"

export SB_BACKEND=$backend
# Files run in parallel, each with its own databases and servers.
exec node --test --test-reporter=spec --test-timeout=300000 ./*.test.mjs
