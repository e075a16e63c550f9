#!/usr/bin/env bash
# lint.sh — clang-format check (--format), clang-tidy (--tidy), or both (no argument).
# clang-tidy needs a configured build dir with compile_commands.json: build-asan/ (the
# test build, which has every test target), else build/.
set -euo pipefail
cd "$(dirname "$0")/.."
mode=${1:-all}
mapfile -t files < <(git ls-files 'src/*.cc' 'src/*.h' 'tests/*.cc' 'tests/*.h' 'fuzz/*.cc' 'fuzz/*.h')
if [[ $mode == all || $mode == --format ]]; then
  clang-format --dry-run -Werror "${files[@]}"
  echo "lint: clang-format clean (${#files[@]} files)"
fi
if [[ $mode == all || $mode == --tidy ]]; then
  db=build-asan
  [[ -f $db/compile_commands.json ]] || db=build
  # src/script/engine.cc is the one file that includes SpiderMonkey's headers:
  # clang-tidy 14 (unlike clang 14 and gcc, which build it) evaluates the guard
  # `#if !__has_builtin(__builtin_ctz)` of mozjs-102's mozilla/MathAlgorithms.h
  # as true and stops at its #error, so it cannot analyse that file. It is built
  # with -Werror and tested under ASan/UBSan like every other file.
  mapfile -t sources < <(git ls-files 'src/*.cc' | grep -v '^src/script/engine.cc$')
  # One clang-tidy per core, a few files each; any finding is an error (.clang-tidy).
  printf '%s\n' "${sources[@]}" | xargs -P "$(nproc)" -n 4 clang-tidy -p "$db" --quiet
  echo "lint: clang-tidy clean (${#sources[@]} files)"
fi
