#include "reconciler/convergence.h"

#include <algorithm>
#include <cstdio>
#include <ctime>
#include <optional>

#include "base/rfc3339.h"

namespace jb {

namespace {

double EpochSeconds(std::chrono::system_clock::time_point t) {
  return std::chrono::duration<double>(t.time_since_epoch()).count();
}

// The smaller of two requeues, where 0 means none.
std::chrono::milliseconds Sooner(std::chrono::milliseconds a, std::chrono::milliseconds b) {
  if (a.count() <= 0) return b;
  if (b.count() <= 0) return a;
  return std::min(a, b);
}

}  // namespace

std::optional<std::chrono::milliseconds> NextNodeRetry(const WorkflowStatus& st, double node_retry_s,
                                                       std::chrono::system_clock::time_point now) {
  if (st.unavailable_nodes.empty()) return std::nullopt;
  const double now_s = EpochSeconds(now);
  double soonest = 1e18;
  for (const auto& o : st.unavailable_nodes) {
    const auto since = ParseRfc3339(o.since);
    const double left = since ? *since + node_retry_s - now_s : 0.0;
    soonest = std::min(soonest, left);
  }
  // Clamped: `since` is stored data and may lie in the future; +1 ms so the pass finds it expired.
  const double ms = std::clamp(soonest, 0.0, std::max(node_retry_s, 0.0)) * 1000.0 + 1.0;
  return std::chrono::milliseconds(static_cast<int64_t>(ms));
}

std::chrono::milliseconds ConvergenceBackoff::Next(const std::string& name, const WorkflowStatus& st,
                                                   double node_retry_s, std::chrono::system_clock::time_point now,
                                                   std::chrono::milliseconds requeue) {
  std::chrono::milliseconds next = requeue;
  {
    MutexLock l(&mu_);
    const Condition* planned = nullptr;
    for (const auto& c : st.conditions)
      if (c.type == "Planned") planned = &c;
    // Empty: no plan, or the last planning did not succeed (Invalid or MissingReference leave an
    // earlier plan in the status but deploy nothing).
    if (st.plan && (planned == nullptr || planned->status == "True")) {
      empty_passes_.erase(name);
    } else {
      int& n = empty_passes_[name];
      auto backoff = opts_.first_empty;
      for (int i = 0; i < n && backoff < opts_.max_empty; ++i) backoff *= 2;
      backoff =
          std::clamp(backoff, std::chrono::milliseconds(1), std::max(opts_.max_empty, std::chrono::milliseconds(1)));
      n = std::min(n + 1, 64);
      next = Sooner(next, backoff);
    }
  }
  if (auto retry = NextNodeRetry(st, node_retry_s, now)) next = Sooner(next, *retry);
  return next;
}

void ConvergenceBackoff::Forget(const std::string& name) {
  MutexLock l(&mu_);
  empty_passes_.erase(name);
}

bool PlanUsesUnavailableNode(const WorkflowStatus& st) {
  if (!st.plan) return false;
  for (const auto& pl : st.plan->placements)
    for (const auto& o : st.unavailable_nodes)
      if (pl.node == o.node) return true;
  return false;
}

std::string ClockRfc3339Millis(const Clock& clock) {
  const auto now = clock.WallNow();
  const std::time_t t = std::chrono::system_clock::to_time_t(now);
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[40];
  std::strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S", &tm);
  char out[48];
  std::snprintf(out, sizeof(out), "%s.%03lldZ", buf, static_cast<long long>(ms));
  return out;
}

double ClockSecondsSince(const Clock& clock, const std::string& rfc3339) {
  const auto t = ParseRfc3339(rfc3339);
  if (!t) return 1e18;
  return EpochSeconds(clock.WallNow()) - *t;
}

}  // namespace jb
