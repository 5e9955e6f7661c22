#!/usr/bin/env bash
# Builds test suites under a sanitizer and runs their tests through ctest (one process per test,
# in parallel, 600 s timeout each), with the suppressions of this folder.
#   tools/sanitizers/run_suites.sh asan|tsan BUILD_DIR JOBS SUITE...   (SUITE "all": every suite)
# BUILD_DIR must be configured already (the Makefile's asan/tsan targets do it).
set -euo pipefail
cd "$(dirname "$0")/../.."
kind=$1 build=$2 jobs=$3
shift 3
suites=("$@")
if [ "${suites[*]}" = all ]; then
  mapfile -t suites < <(sed -n 's/^jb_test(\([a-z0-9_]*\) .*/\1/p' tests/CMakeLists.txt)
fi
supp=$PWD/tools/sanitizers
case $kind in
  asan)
    export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:detect_stack_use_after_return=0
    export LSAN_OPTIONS=suppressions=$supp/lsan.supp
    export UBSAN_OPTIONS=suppressions=$supp/ubsan.supp:print_stacktrace=1:halt_on_error=1 ;;
  tsan)
    export TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1 ;;
  *) echo "usage: $0 asan|tsan BUILD_DIR JOBS SUITE..." >&2; exit 2 ;;
esac

start=$(date +%s)
cmake --build "$build" -j "$jobs" --target "${suites[@]}"
echo "$kind: built ${suites[*]} in $(( $(date +%s) - start )) s"

# A ctest directory holding only the chosen suites: it includes the test lists that
# gtest_discover_tests wrote for each of them in BUILD_DIR/tests.
dir=$build/ci-suites
rm -rf "$dir" && mkdir -p "$dir"
for s in "${suites[@]}"; do
  inc=$(ls "$build/tests/${s}"\[*\]_include.cmake 2>/dev/null | head -n 1)
  [ -n "$inc" ] || { echo "$kind: no test list for $s in $build/tests" >&2; exit 1; }
  [[ $inc = /* ]] || inc=$PWD/$inc
  echo "include(\"$inc\")" >> "$dir/CTestTestfile.cmake"
done
start=$(date +%s)
rc=0
(cd "$dir" && ctest --output-on-failure -j "$jobs" --timeout 600) || rc=$?
echo "$kind: ran the tests of ${suites[*]} in $(( $(date +%s) - start )) s"
exit $rc
