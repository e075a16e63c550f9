#!/usr/bin/env bash
# test.sh — the README's second command (and CI's): installs what is missing,
# checks formatting, builds with AddressSanitizer + UndefinedBehaviorSanitizer,
# runs clang-tidy on every source file and
# runs the whole suite (unit, integration on SQLite and on a throwaway
# PostgreSQL 15 cluster, real clients from npm, hostile input, kill -9 durability)
# with ctest, then the fuzz targets for 20 s each. Fails if any PostgreSQL test
# did not run.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh --test
export CCACHE_BASEDIR="$PWD" CCACHE_NOHASHDIR=1

scripts/lint.sh --format

cmake --preset asan >/dev/null
cmake --build --preset asan
# clang-tidy over every source file (.clang-tidy; any finding fails), on the
# asan build's compile_commands.json: about 7 minutes on 2 cores.
scripts/lint.sh --tidy
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
log=$(mktemp)
set +e
scripts/with-postgres.sh ctest --test-dir build-asan --output-on-failure -j2 --timeout 600 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
set -e
# The fuzz targets (libFuzzer, clang, ASan+UBSan) run briefly so they cannot rot.
scripts/fuzz.sh 20 || status=1
# A suite that silently skipped PostgreSQL is a failing suite.
pg_passed=$(grep -cE 'Test +#[0-9]+: .*/postgres .*Passed' "$log" || true)
rm -f "$log"
if [[ $status -eq 0 && $pg_passed -eq 0 ]]; then
  echo "test.sh: no PostgreSQL test passed: the PostgreSQL suite did not run" >&2
  exit 1
fi
echo "test.sh: $pg_passed PostgreSQL test(s) passed"
exit "$status"
