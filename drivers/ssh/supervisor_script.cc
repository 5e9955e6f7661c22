#include "drivers/ssh/supervisor_script.h"

#include <cmath>

#include "drivers/worker_process.h"

namespace jb {
namespace {

// The remote supervisor. Runs from <node dir>/bin; see ssh_driver.h. Its back-off is
// RestartBackoff's (drivers/worker_process.h), filled in by SupervisorScript().
constexpr const char* kSupervisor = R"SH(#!/bin/sh
# jb-supervise WORKFLOW WORKER: the JellyBean ssh driver's remote supervisor. Runs
# bin/jellybean-worker --config WORKFLOW/WORKER.yaml from the node directory, restarts it with
# back-off (@INITIAL_MS@ ms doubling to @MAX_MS@ ms, reset after @HEALTHY_S@ s up) when it exits,
# forwards HUP, stops it on TERM.
# jb-supervise --fence TERM: fencing (drivers/fencing.h). Refuses (exit 75, the reason on stderr)
# when the node directory's file `term` holds a higher term (a newer leader has given this node
# instructions); otherwise records TERM there. The driver runs it before every instruction.
cd "$(dirname "$0")/.." || exit 1
if [ "$1" = --fence ]; then
  case "$2" in ''|*[!0-9]*) echo "jb-supervise: --fence needs a term (a number), got '$2'" >&2; exit 2;; esac
  exec 9>> term.lock
  command -v flock > /dev/null && flock 9
  seen=$(cat term 2>/dev/null)
  case "$seen" in ''|*[!0-9]*) seen=0;; esac
  if [ "$2" -lt "$seen" ]; then
    echo "fenced: instruction of term $2 refused: this node has seen term $seen (a newer leader acts)" >&2
    exit 75
  fi
  [ "$2" -gt "$seen" ] && echo "$2" > term.tmp && mv term.tmp term
  exit 0
fi
base="$1/$2"
echo $$ > "$base.sup"
child=0
trap 'kill -TERM $child 2>/dev/null; wait $child 2>/dev/null; rm -f "$base.sup" "$base.pid"; exit 0' TERM INT
trap 'kill -HUP $child 2>/dev/null' HUP
restarts=0
backoff=@INITIAL_MS@
while :; do
  started=$(date +%s)
  bin/jellybean-worker --config "$base.yaml" >> "$base.log" 2>&1 &
  child=$!
  echo "$child $restarts" > "$base.pid"
  while :; do
    wait $child
    rc=$?
    kill -0 $child 2>/dev/null || break
  done
  echo "$rc $(date +%s)" > "$base.exit"
  restarts=$((restarts + 1))
  [ $(($(date +%s) - started)) -ge @HEALTHY_S@ ] && backoff=@INITIAL_MS@
  # The whole delay, even when a HUP interrupts the wait.
  sleep $((backoff / 1000)).$(printf %03d $((backoff % 1000))) &
  pause=$!
  while kill -0 $pause 2>/dev/null; do wait $pause; done
  backoff=$((backoff * 2))
  [ $backoff -gt @MAX_MS@ ] && backoff=@MAX_MS@
done
)SH";

void ReplaceAll(std::string& s, const std::string& from, const std::string& to) {
  for (auto at = s.find(from); at != std::string::npos; at = s.find(from, at + to.size()))
    s.replace(at, from.size(), to);
}

}  // namespace

std::string SupervisorScript() {
  std::string s = kSupervisor;
  ReplaceAll(s, "@INITIAL_MS@", std::to_string(std::llround(RestartBackoff::kInitialS * 1000)));
  ReplaceAll(s, "@MAX_MS@", std::to_string(std::llround(RestartBackoff::kMaxS * 1000)));
  ReplaceAll(s, "@HEALTHY_S@", std::to_string(RestartBackoff::kHealthyAfter.count()));
  return s;
}

}  // namespace jb
