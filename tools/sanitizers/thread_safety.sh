#!/usr/bin/env bash
# clang -Wthread-safety over every translation unit of the project (syntax only, no code
# generation: the warnings come from the front end). Prints each distinct warning once and their
# count; exits 1 when there are any and STRICT=1.
#   tools/sanitizers/thread_safety.sh BUILD_DIR JOBS STRICT [EXCLUDE]
# EXCLUDE: space-separated source folders (e.g. "worker/") whose warnings are printed and counted
# apart but do not fail a strict run: a folder whose locks are not converted to jb::Mutex yet.
set -uo pipefail
cd "$(dirname "$0")/../.."
build=$1 jobs=$2 strict=${3:-0} exclude=${4:-}
start=$(date +%s)
cmake -S . -B "$build" -DCMAKE_CXX_COMPILER=clang++-14 -DCMAKE_C_COMPILER=clang-14 -DJB_BUILD_BENCH=ON \
  -DCMAKE_BUILD_TYPE=Debug > "$build.configure.log" 2>&1 || { cat "$build.configure.log"; exit 1; }
# Generated headers (protobuf, gRPC) must exist before the sources that include them are parsed
# (generated only: nothing is compiled).
cmake --build "$build" -j "$jobs" --target jb_wire_proto_sources jb_etcd_proto_sources > "$build/proto.log" 2>&1 || { cat "$build/proto.log"; exit 1; }

# compile_commands.json as CMake writes it: "directory", "command", "file" lines per entry.
# Each command becomes "cd DIR && COMMAND -fsyntax-only -Wthread-safety" (JSON escapes undone).
# Sources generated into the build directory (protobuf/gRPC code of worker/proto and etcd's API)
# are left out: they hold no locks of ours.
list=$build/thread-safety.commands
sed -n -e 's/^  "directory": "\(.*\)",$/cd "\1" \&\& /p' -e 's/^  "command": "\(.*\)",$/\1 -fsyntax-only -Wthread-safety/p' \
  "$build/compile_commands.json" | paste -d '' - - | sed -e 's/\\"/"/g' -e 's/\\\\/\\/g' |
  grep -vF -- "-c $PWD/$build/" > "$list"
n=$(wc -l < "$list")
[ "$n" -gt 0 ] || { echo "thread-safety: no compile commands in $build/compile_commands.json"; exit 1; }
out=$PWD/$build/thread-safety.log  # absolute: each command cd's into its build directory
: > "$out"
tr '\n' '\0' < "$list" | xargs -0 -P "$jobs" -n 1 sh -c '{ eval "$1"; } >> "$0" 2>&1 || echo "thread-safety: compile failed: $1" >> "$0"' "$out"
if grep -q "^thread-safety: compile failed" "$out"; then
  grep -E "error:|^thread-safety: compile failed" "$out" | head -n 20
  echo "thread-safety: some translation units do not compile with clang (log: $out)"
  exit 1
fi
all=$(grep -E "warning: .*\[-Wthread-safety[a-z-]*\]" "$out" | sort -u)
excluded_re='^$'
for d in $exclude; do excluded_re="$excluded_re|^$PWD/$d"; done
warnings=$(printf '%s\n' "$all" | grep -Ev "$excluded_re" || true)
skipped=$(printf '%s\n' "$all" | grep -E "$excluded_re" | grep -c . || true)
count=$(printf '%s' "$warnings" | grep -c . || true)
printf '%s\n' "$warnings" | sed -n '1,40p'
[ "$count" -gt 40 ] && echo "... (all in $out)"
[ -n "$exclude" ] && echo "thread-safety: $skipped more in the excluded folders ($exclude), not counted (log: $out)"
echo "thread-safety: $count distinct -Wthread-safety warnings in $n translation units ($(( $(date +%s) - start )) s)"
if [ "$count" -gt 0 ] && [ "$strict" = 1 ]; then exit 1; fi
exit 0
