#!/usr/bin/env bash
# Runs the fuzz targets built in BUILD_DIR (default build-fuzz; `make fuzz` builds them first), each
# for a bounded time, starting from:
#   fuzz/corpus/<target>/   the checked-in regression corpus (inputs that reached new code),
#   generated seeds         golden files and manifests/ for the manifest target, fuzz_seeds' real
#                           frames for the frame targets,
#   BUILD_DIR/fuzz-work/corpus/<target>/   what earlier local runs found (kept between runs).
# Before fuzzing, every file in fuzz/crashes/<target>/ (reproducers of open findings) is replayed:
# the stage fails until they are fixed (then move them to fuzz/corpus/<target>/ as regressions).
# A new finding is written to BUILD_DIR/fuzz-work/crashes/<target>/ and fails the stage.
#
# Environment: FUZZ_SECONDS per target (default 60); FUZZ_TARGETS (default all five); FUZZ_JOBS
# targets fuzzed at once (default: the number of cores).
# fuzz/run.sh --merge BUILD_DIR: adds to fuzz/corpus/<target>/ the inputs of the local corpus that
# reach code the checked-in corpus does not (to refresh the regression corpus; commit the result).
set -uo pipefail
cd "$(dirname "$0")/.."

merge=0
if [ "${1:-}" = "--merge" ]; then merge=1; shift; fi
build=${1:-build-fuzz}
secs=${FUZZ_SECONDS:-60}
targets=${FUZZ_TARGETS:-"manifest agent_frame worker_frame exec_frame oip_request"}
work=$build/fuzz-work
# Bounds: inputs up to max_len bytes (the largest manifest seed is ~9 KB), 2 GB RSS, 10 s an input.
declare -A max_len=([manifest]=16384 [agent_frame]=8192 [worker_frame]=4096 [exec_frame]=4096 [oip_request]=8192)
common=(-rss_limit_mb=2048 -timeout=10 -print_final_stats=1)
jobs=${FUZZ_JOBS:-$(nproc 2>/dev/null || echo 2)}

rm -rf "$work/seeds" && mkdir -p "$work/seeds/manifest" "$work/seeds/exec_frame" || exit 1
"$build/fuzz/fuzz_seeds" "$work/seeds" || { echo "fuzz: the seed generator failed"; exit 1; }
for f in tests/golden/validate/*.yaml $(find manifests -name '*.yaml' -o -name '*.json' | sort); do
  cp "$f" "$work/seeds/manifest/$(echo "$f" | tr / _)"
done

# One target: replays its open findings, then fuzzes it; prints one summary line and returns 1 on a
# finding (or on a failed merge).
fuzz_one() {
  local t=$1 bin=$build/fuzz/fuzz_$1
  mkdir -p "$work/corpus/$t" "$work/crashes/$t" "fuzz/corpus/$t" "$work/seeds/$t"
  local dict=(); [ -f "fuzz/$t.dict" ] && dict=(-dict="fuzz/$t.dict")
  if [ $merge = 1 ]; then
    "$bin" -merge=1 "${common[@]}" -max_len="${max_len[$t]}" "fuzz/corpus/$t" "$work/corpus/$t" > "$work/$t.merge.log" 2>&1 ||
      { echo "fuzz: merge of $t failed, see $work/$t.merge.log"; return 1; }
    echo "fuzz: $t: $(ls "fuzz/corpus/$t" | wc -l) inputs in fuzz/corpus/$t"
    return 0
  fi
  local still=0 f
  for f in $(find "fuzz/crashes/$t" -type f 2>/dev/null | sort); do
    if "$bin" "${common[@]}" "$f" > "$work/$t.replay.log" 2>&1; then
      echo "fuzz: $t: $f passes now: move it to fuzz/corpus/$t/"
    else
      echo "fuzz: $t: $f still fails: $(grep -m1 -oE "ERROR: [A-Za-z]+: [^(]*|violated: .{0,100}|runtime error: .{0,100}" "$work/$t.replay.log")"
      still=1
    fi
  done
  [ $still = 0 ] || return 1
  local start rc runs cov
  start=$(date +%s)
  "$bin" "${common[@]}" "${dict[@]}" -max_len="${max_len[$t]}" -max_total_time="$secs" \
    -artifact_prefix="$work/crashes/$t/" "$work/corpus/$t" "fuzz/corpus/$t" "$work/seeds/$t" > "$work/$t.log" 2>&1
  rc=$?
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$work/$t.log" | tail -n 1)
  cov=$(grep -oE 'cov: [0-9]+' "$work/$t.log" | tail -n 1)
  if [ $rc -ne 0 ]; then
    echo "fuzz: $t FAILED after $(( $(date +%s) - start )) s (exit $rc); log: $work/$t.log"
    grep -E "ERROR|SUMMARY|violated|Test unit written|Base64" "$work/$t.log" | head -n 12
    return 1
  fi
  echo "fuzz: $t: ${runs:-?} inputs in $(( $(date +%s) - start )) s, ${cov:-cov: ?} edges, corpus $(ls "$work/corpus/$t" | wc -l) files, no findings"
}

# FUZZ_JOBS targets at a time (default: the number of cores), each one libFuzzer process on one core,
# so every target still gets FUZZ_SECONDS of a whole core.
for t in $targets; do
  [ -x "$build/fuzz/fuzz_$t" ] || { echo "fuzz: $build/fuzz/fuzz_$t is not built"; exit 1; }
done
declare -A pid_of=()
failed=""
reap() {  # waits for one running target and records its result
  local done_pid rc t
  wait -n -p done_pid; rc=$?
  for t in "${!pid_of[@]}"; do
    if [ "${pid_of[$t]}" = "$done_pid" ]; then
      unset "pid_of[$t]"
      [ $rc = 0 ] || failed="$failed $t"
    fi
  done
}
for t in $targets; do
  while [ ${#pid_of[@]} -ge "$jobs" ]; do reap; done
  fuzz_one "$t" &
  pid_of[$t]=$!
done
while [ ${#pid_of[@]} -gt 0 ]; do reap; done
if [ -n "$failed" ]; then
  echo "fuzz: findings in:$failed (new ones in $work/crashes/<target>/; replay with $build/fuzz/fuzz_<target> FILE)"
  exit 1
fi
