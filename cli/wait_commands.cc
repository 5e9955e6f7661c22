// jbctl wait and rollout status: polling the daemon until a condition holds or a deadline passes.
#include <chrono>
#include <cstdlib>
#include <thread>

#include "api/manifest.h"
#include "cli/remote.h"

namespace jb::cli {

namespace {

using SteadyClock = std::chrono::steady_clock;

// Polls `probe` (true = done, nullopt = a hard error) every poll_s until the deadline.
// Returns 0 done, 1 hard error or timeout (the timeout is reported by the caller: `*timed_out`).
template <class Probe>
int PollUntil(double timeout_s, double poll_s, Probe probe, bool* timed_out) {
  const auto deadline =
      SteadyClock::now() + std::chrono::duration_cast<SteadyClock::duration>(std::chrono::duration<double>(timeout_s));
  *timed_out = false;
  for (;;) {
    std::optional<bool> done = probe();
    if (!done) return 1;
    if (*done) return 0;
    auto now = SteadyClock::now();
    if (now >= deadline) {
      *timed_out = true;
      return 1;
    }
    auto step = std::chrono::duration_cast<SteadyClock::duration>(std::chrono::duration<double>(poll_s));
    std::this_thread::sleep_for(std::min(step, deadline - now));
  }
}

}  // namespace

std::optional<double> ParseDuration(const std::string& s) {
  if (s.empty()) return std::nullopt;
  char* end = nullptr;
  double v = std::strtod(s.c_str(), &end);
  std::string unit = end;
  if (end == s.c_str() || v < 0) return std::nullopt;
  if (unit.empty() || unit == "s") return v;
  if (unit == "ms") return v / 1000;
  if (unit == "m") return v * 60;
  if (unit == "h") return v * 3600;
  return std::nullopt;
}

int Wait(const Remote& r, const WaitOptions& o, std::ostream& out, std::ostream& err) {
  std::string plural, name;
  if (!ResolveTarget(o.positionals, &plural, &name, "jbctl wait", err)) return 1;
  const bool for_delete = o.for_ == "delete";
  std::string type, want = "True";
  if (!for_delete) {
    if (o.for_.rfind("condition=", 0) != 0 || o.for_.size() == 10) {
      err << "jbctl wait: --for must be condition=TYPE[=STATUS] or delete, not \"" << o.for_ << "\"\n";
      return 1;
    }
    type = o.for_.substr(10);
    if (auto eq = type.find('='); eq != std::string::npos) {
      want = type.substr(eq + 1);
      type.resize(eq);
    }
  }
  const std::string what = SingularOf(plural) + ".jellybean.dev/" + name;
  bool timed_out = false;
  int rc = PollUntil(
      o.timeout_s, o.poll_s,
      [&]() -> std::optional<bool> {
        auto resp = HttpCall(r.http, "GET", kApiPath + plural + "/" + name);
        if (!resp.ok()) return false;  // the daemon may be restarting: keep polling until the deadline
        if (resp->status == 404) {
          if (for_delete) return true;
          err << "jbctl wait: " << ErrorOf(*resp) << "\n";
          return std::nullopt;
        }
        if (resp->status != 200 || for_delete) return false;
        auto obj = DecodeResponse(*resp);
        if (!obj.ok()) return false;
        const auto* wf = std::get_if<Workflow>(&*obj);
        if (wf == nullptr) {
          err << "jbctl wait: " << KindOf(*obj) << " has no conditions\n";
          return std::nullopt;
        }
        for (const auto& c : wf->status.conditions)
          if (c.type == type && c.status == want) return true;
        return false;
      },
      &timed_out);
  if (rc == 0) {
    out << what << (for_delete ? " deleted" : " condition met") << "\n";
    return 0;
  }
  if (timed_out) err << "jbctl wait: timed out waiting for the condition on " << plural << "/" << name << "\n";
  return 1;
}

int RolloutStatusCommand(const Remote& r, const RolloutStatusOptions& o, std::ostream& out, std::ostream& err) {
  std::string plural, name;
  if (!ResolveTarget(o.positionals, &plural, &name, "jbctl rollout status", err)) return 1;
  if (plural != "workflows") {
    err << "jbctl rollout status: only workflows roll out\n";
    return 1;
  }
  std::string last;
  bool timed_out = false;
  int rc = PollUntil(
      o.watch ? o.timeout_s : 0, o.poll_s,
      [&]() -> std::optional<bool> {
        auto wf = FetchWorkflow(r, name, "jbctl rollout status", err);
        if (!wf) return std::nullopt;
        bool ready = false;
        for (const auto& c : wf->status.conditions)
          if (c.type == "Ready") ready = c.status == "True";
        std::string line;
        if (wf->status.rollout && wf->status.rollout->switched.empty())
          line = "Waiting for rollout of epoch " + std::to_string(wf->status.rollout->to_epoch) + " to finish: phase " +
                 wf->status.rollout->phase + " (trigger " + wf->status.rollout->trigger + ")";
        else if (!ready)
          line = "Waiting for workflow \"" + name + "\" to become Ready";
        if (line.empty()) {
          out << "workflow \"" << name << "\" successfully rolled out (epoch " << wf->status.plan_epoch.value_or(0)
              << ")\n";
          return true;
        }
        if (line != last) out << line << "...\n" << std::flush;
        last = line;
        return false;
      },
      &timed_out);
  if (timed_out && !o.watch) return 0;  // --watch=false: the status line was the answer
  if (timed_out) err << "jbctl rollout status: timed out after " << o.timeout_s << " s\n";
  return rc;
}

}  // namespace jb::cli
