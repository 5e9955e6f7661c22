// Control link vs data path (#22). A node whose workers are cut off from the daemon (their driver
// reports WorkerState::control_link_lost: the agent's heartbeat is gone) while their data path
// still works keeps its part of the plan: it is not left out (no NodeNotReady, no re-plan for it
// alone), and the Workflow shows ControlLinkLost=True with the nodes and since when.
// The data path works when a reachable peer's report shows items moving to a worker on the node:
// a link to it that is connected and whose acknowledged-items count (items - inflight) grew
// within `data_grace` (sent counts would not do: a sender fills its window into a cut link).
// A node cut off longer than `max_autonomous` is treated as lost (left out, re-planned), as is one
// whose data path shows no movement for data_grace.
// Thread-safety: ControlLinkTracker is thread-safe.
#pragma once

#include <chrono>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "base/clock.h"
#include "base/mutex.h"
#include "base/thread_annotations.h"
#include "drivers/driver.h"

namespace jb {

// The condition type (and its True reason).
inline constexpr const char* kControlLinkLost = "ControlLinkLost";

struct ControlLinkOptions {
  std::chrono::milliseconds data_grace{4000};  // no item movement seen this long = data path lost
  double max_autonomous_s = 300;               // the longest a cut-off node keeps its work
};

// A node whose control link is lost.
struct ControlLinkCut {
  std::string node;
  std::chrono::steady_clock::time_point since;  // first pass that saw it cut
  bool data_path_alive = false;                 // peers saw items moving to it within data_grace
  bool autonomous = false;                      // alive and cut for less than max_autonomous
};

class ControlLinkTracker {
 public:
  explicit ControlLinkTracker(ControlLinkOptions opts = {}) : opts_(opts) {}

  // Feeds one observation of `workflow`'s workers at `now`; returns the nodes whose (non-io)
  // workers are all either ready or control_link_lost, with at least one lost, by node name.
  std::map<std::string, ControlLinkCut> Observe(const std::string& workflow, const std::vector<WorkerState>& observed,
                                                std::chrono::steady_clock::time_point now) EXCLUDES(mu_);
  void Forget(const std::string& workflow) EXCLUDES(mu_);

 private:
  struct LinkSeen {
    int64_t items = -1;
    std::chrono::steady_clock::time_point moved{};  // when its count last grew
  };
  struct WorkflowState {
    std::map<std::string, LinkSeen> links;                                   // "from->to" -> last count
    std::map<std::string, std::chrono::steady_clock::time_point> cut_since;  // node -> since
  };
  const ControlLinkOptions opts_;
  Mutex mu_;
  std::map<std::string, WorkflowState> state_ GUARDED_BY(mu_);
};

// The ControlLinkLost condition's message: "node N (since T, Xs ago)" for each autonomous node.
std::string ControlLinkMessage(const std::map<std::string, ControlLinkCut>& cuts,
                               std::chrono::steady_clock::time_point now, const Clock& clock);

}  // namespace jb
