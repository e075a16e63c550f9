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
  # clang-tidy 14 answers false to every __has_builtin() (clang 14 itself does
  # not), so mozjs-102's mozilla/MathAlgorithms.h stops at its
  # `#if !__has_builtin(__builtin_ctz)` #error, which it checks for clang only.
  # That file is analysed as if by GCC 6 (__clang__ undefined, __GNUC__ 6: the
  # headers' GCC branch, which needs no __has_builtin, and no glibc attribute
  # clang lacks), and without the GCC-only warning flag CMake gives it.
  mapfile -t sources < <(git ls-files 'src/*.cc' | grep -v '^src/script/engine.cc$')
  # One clang-tidy per core, a few files each; any finding is an error (.clang-tidy).
  printf '%s\n' "${sources[@]}" | xargs -P "$(nproc)" -n 4 clang-tidy -p "$db" --quiet
  clang-tidy -p "$db" --quiet --extra-arg=-Wno-unknown-warning-option --extra-arg=-U__clang__ \
    --extra-arg=-U__GNUC__ --extra-arg=-D__GNUC__=6 src/script/engine.cc
  sources+=(src/script/engine.cc)
  echo "lint: clang-tidy clean (${#sources[@]} files)"
fi
