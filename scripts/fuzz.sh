#!/usr/bin/env bash
# fuzz.sh [SECONDS] — builds the libFuzzer targets of fuzz/ with clang,
# AddressSanitizer and UndefinedBehaviorSanitizer into build-fuzz/, replays the
# saved reproducers (fuzz/crashes/<target>-*), then fuzzes each target for
# SECONDS (default 60) from its seed corpus (fuzz/corpus/<target>/; new inputs go
# to build-fuzz/corpus/<target>/, the tree stays clean). Fails on any crash,
# sanitizer report, contract violation, timeout or out-of-memory; the input is
# written to build-fuzz/artifacts/ (copy it to fuzz/crashes/ to keep it as a
# regression input). docs/security.md describes the targets.
#
# Environment: FUZZ_TARGETS="fuzz_soap_request …" to run a subset;
# STAGEBRIDGE_FUZZ_MEMORY_ONLY=1 to check memory safety only (no contract checks).
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}
targets=(${FUZZ_TARGETS:-fuzz_soap_request fuzz_ingest_document fuzz_querydef fuzz_e4x})

if ! command -v clang++ >/dev/null 2>&1; then
  echo "fuzz.sh: clang++ not found (install clang and libclang-rt-14-dev)" >&2
  exit 1
fi
if ! grep -q 'add_subdirectory(fuzz)' CMakeLists.txt; then
  echo "fuzz.sh: the top-level CMakeLists.txt does not include fuzz/ (option STAGEBRIDGE_FUZZ)" >&2
  exit 1
fi
export CCACHE_BASEDIR="$PWD" CCACHE_NOHASHDIR=1

CC=clang CXX=clang++ cmake -S . -B build-fuzz -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ \
  -DSTAGEBRIDGE_FUZZ=ON -DSTAGEBRIDGE_SANITIZE=ON -DSTAGEBRIDGE_TESTS=OFF -DSTAGEBRIDGE_WERROR=OFF >/dev/null
cmake --build build-fuzz --target "${targets[@]}"

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:allocator_may_return_null=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
mkdir -p build-fuzz/artifacts
status=0
for t in "${targets[@]}"; do
  bin=$(find build-fuzz -type f -name "$t" -perm -u+x | head -1)
  if [[ -z "$bin" ]]; then
    echo "fuzz.sh: $t was not built" >&2
    exit 1
  fi
  # Saved reproducers first: each must now run clean.
  shopt -s nullglob
  saved=(fuzz/crashes/"$t"-*)
  shopt -u nullglob
  if ((${#saved[@]} > 0)); then
    echo "fuzz.sh: $t: replaying ${#saved[@]} saved reproducer(s)"
    for f in "${saved[@]}"; do
      if ! "$bin" -runs=1 "$f" >"build-fuzz/artifacts/replay.log" 2>&1; then
        echo "fuzz.sh: $t: saved reproducer $f still fails:" >&2
        grep -E 'contract violation|^\*\*\* at byte|ERROR: AddressSanitizer|runtime error|SUMMARY' \
          build-fuzz/artifacts/replay.log | head -5 >&2 || true
        status=1
      fi
    done
  fi
  work="build-fuzz/corpus/$t"
  mkdir -p "$work"
  echo "fuzz.sh: $t: fuzzing for ${seconds}s"
  log="build-fuzz/artifacts/$t.log"
  set +e
  "$bin" "$work" "fuzz/corpus/$t" -max_len=65536 -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2560 \
    -dict=fuzz/soap.dict -artifact_prefix="build-fuzz/artifacts/$t-" -print_final_stats=1 >"$log" 2>&1
  rc=$?
  set -e
  grep -E '^(#[0-9]+ +DONE|stat::number_of_executed_units|stat::peak_rss_mb)' "$log" || true
  if ((rc != 0)); then
    echo "fuzz.sh: $t FAILED (exit $rc); log: $log" >&2
    grep -E 'contract violation|^\*\*\* at byte|ERROR: (AddressSanitizer|libFuzzer)|runtime error|SUMMARY|Test unit' \
      "$log" | head -8 >&2 || true
    status=1
  fi
done
exit "$status"
