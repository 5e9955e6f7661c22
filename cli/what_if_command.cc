// jbctl plan --what-if: plans the daemon's objects with local manifests in their place and
// prints what the daemon would do; applies nothing.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <map>
#include <set>

#include "api/manifest.h"
#include "cli/cli_util.h"
#include "cli/remote.h"
#include "planner/solver.h"
#include "reconciler/deployment.h"
#include "reconciler/replan.h"

namespace fs = std::filesystem;

namespace jb::cli {

namespace {

// Operators and rates per node of a plan: "Op variant rate/s, ...".
std::map<std::string, std::string> HostedByNode(const Plan& p) {
  std::map<std::string, std::string> out;
  for (const auto& pl : p.placements) {
    auto& s = out[pl.node];
    s += (s.empty() ? "" : ", ") + pl.op + " " + pl.variant + " " + FormatFixed(pl.rate, 2) + "/s";
  }
  return out;
}

// (kind, name) -> object.
using ObjectKey = std::pair<std::string, std::string>;
using Objects = std::map<ObjectKey, Object>;

// The daemon's objects of every kind; false (with the reason on `err`) when a list fails.
bool FetchServerObjects(const Remote& r, Objects& objects, std::ostream& err) {
  for (const char* plural : {"infrastructures", "modelprofiles", "workflows"}) {
    auto resp = HttpCall(r.http, "GET", kApiPath + plural);
    if (!resp.ok() || resp->status != 200) {
      err << "jbctl plan --what-if: " << (resp.ok() ? ErrorOf(*resp) : resp.status().message()) << "\n";
      return false;
    }
    auto docs = ParseYamlStream(resp->body);
    const Value* items = docs.empty() ? nullptr : docs[0].root.Find("items");
    if (items == nullptr) continue;
    for (const auto& item : items->items()) {
      Document d;
      d.file = std::string("server ") + plural;
      DecodeDocument(item, &d);
      if (d.object) objects[{KindOf(*d.object), MetaOf(*d.object).name}] = *d.object;
    }
  }
  return true;
}

// Puts the local manifests in place of the daemon's objects of the same kind and name and records
// their keys in `changed`; false (with the reason on `err`) when a path is missing or undecodable.
bool OverlayLocal(const std::vector<std::string>& paths, Objects& objects, std::set<ObjectKey>& changed,
                  std::ostream& err) {
  for (const auto& p : paths) {
    if (!fs::exists(p)) {
      err << "jbctl plan --what-if: " << p << ": no such file or directory\n";
      return false;
    }
    for (auto& d : LoadPath(p)) {
      if (!d.diagnostics.empty() || !d.object) {
        for (const auto& diag : d.diagnostics) err << diag.ToString() << "\n";
        if (d.diagnostics.empty()) err << d.file << ": could not be decoded\n";
        return false;
      }
      auto key = std::make_pair(KindOf(*d.object), MetaOf(*d.object).name);
      Object obj = *d.object;
      if (auto* w = std::get_if<Workflow>(&obj); w != nullptr && objects.count(key) != 0)
        w->status = std::get<Workflow>(objects[key]).status;  // keep what the daemon knows (plan, outages, load)
      objects[key] = std::move(obj);
      changed.insert(key);
    }
  }
  return true;
}

// Validates the combined set; false (with the diagnostics on `err`) when it is invalid.
bool ValidateCombined(const Objects& objects, const std::set<ObjectKey>& changed, std::ostream& err) {
  std::vector<Document> all;
  for (const auto& [key, obj] : objects) {
    Document d;
    d.file = (changed.count(key) != 0 ? "local " : "server ") + key.first + "/" + key.second;
    d.object = obj;
    all.push_back(std::move(d));
  }
  ValidateSet(&all);
  auto errors = FormatDiagnostics(all);
  if (errors.empty()) return true;
  for (const auto& e : errors) err << e << "\n";
  err << "jbctl plan --what-if: the combined objects are invalid (" << errors.size()
      << " error(s)); nothing was applied\n";
  return false;
}

// What the what-if plan changes against the running one: costs and accuracy, variants, operators
// per node.
void PrintPlanChanges(const Workflow& wf, const Rescored& cur, const Plan& next, std::ostream& out) {
  double before = wf.status.plan->cost.total_per_hour, now = cur.plan.cost.total_per_hour,
         after = next.cost.total_per_hour;
  out << "  running (epoch " << wf.status.plan_epoch.value_or(0) << "): " << FormatFixed(before, 4) << " $/h, accuracy "
      << FormatFixed(wf.status.plan->accuracy, 2) << "; under the changed inputs it would cost " << FormatFixed(now, 4)
      << " $/h" << (cur.violations.empty() ? "" : " and is invalid: " + cur.violations.front()) << "\n";
  double delta = std::fabs(after - now) < 5e-5 ? 0 : after - now;
  out << "  what-if plan:       " << FormatFixed(after, 4) << " $/h (" << (delta >= 0 ? "+" : "")
      << FormatFixed(delta, 4) << ", " << (now > 0 ? FormatFixed(100 * delta / now, 1) : "0")
      << "% against the running plan under the changed inputs), accuracy " << FormatFixed(next.accuracy, 2) << " ("
      << (next.accuracy - cur.plan.accuracy >= 0 ? "+" : "") << FormatFixed(next.accuracy - cur.plan.accuracy, 2)
      << ")\n";
  std::string variants;
  for (const auto& [op, v] : next.variants) {
    auto old = wf.status.plan->variants.find(op);
    if (old == wf.status.plan->variants.end() || old->second != v)
      variants += "\n    " + op + ": " + (old == wf.status.plan->variants.end() ? "-" : old->second) + " -> " + v;
  }
  out << "  variants:" << (variants.empty() ? " unchanged" : variants) << "\n";
  auto a = HostedByNode(*wf.status.plan), b = HostedByNode(next);
  std::set<std::string> nodes;
  for (const auto& [n, s] : a) nodes.insert(n);
  for (const auto& [n, s] : b) nodes.insert(n);
  int moved = 0;
  std::vector<std::vector<std::string>> rows = {{"    ", "NODE", "NOW", "WHAT-IF"}};
  for (const auto& n : nodes) {
    auto x = a.find(n), y = b.find(n);
    std::string was = x == a.end() ? "-" : x->second, will = y == b.end() ? "-" : y->second;
    if (was == will) continue;
    ++moved;
    rows.push_back({x == a.end() ? "    +" : y == b.end() ? "    -" : "    ~", n, was, will});
  }
  out << "  nodes changed: " << moved << (moved == 0 ? "" : " (+ started, - stopped, ~ re-assigned)") << "\n";
  if (moved > 0) PrintTable(out, rows, 2);
}

// The daemon's decision (ProposeReplan, as its reconciler calls it), with the default damping:
// the running plan rescored under the changed inputs, the churn against the running workers.
void PrintDecision(const Workflow& wf, const std::vector<ModelProfile>& profiles, const Infrastructure& infra,
                   const planner::Problem& problem, const Plan& next, const std::string& trigger, std::ostream& out) {
  int64_t epoch = wf.status.plan_epoch.value_or(1);
  auto running = BuildDeployment(wf, profiles, infra, *wf.status.plan, epoch);
  ReplanCandidate candidate{next, std::nullopt};
  if (auto target = BuildDeployment(wf, profiles, infra, next, epoch + 1); target.ok() && running.ok())
    candidate.workers = std::move(*target);
  const double now_s = std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
  const ReplanProposal proposal =
      ProposeReplan(problem, wf.status, running.ok() ? *running : std::vector<WorkerConfig>{}, candidate,
                    ReplanContext{trigger, now_s, DampingOptions{}});
  PrintPlanChanges(wf, proposal.current, next, out);
  // Churn as the daemon counts it: worker processes the rollout would start or stop.
  out << "  workers started or stopped: " << (candidate.workers ? std::to_string(proposal.churn) : "unknown") << "\n";
  const ReplanDecision& d = proposal.decision;
  if (d.action == ReplanAction::kKeep)
    out << "  the daemon would keep the running plan: " << d.reason << "\n";
  else if (d.action == ReplanAction::kAdopt)
    out << "  the daemon would roll this plan out: " << d.reason << "\n";
  else
    out << "  the daemon would roll this plan out in " << FormatFixed(d.retry_after_s, 1)
        << " s (with the default damping): " << d.reason << "\n";
}

// One affected workflow: plans it as the daemon would and prints the outcome. Returns false (with
// the reason on `err`) when its problem cannot be built.
bool PrintWorkflowWhatIf(const Workflow& wf, const std::vector<ModelProfile>& profiles, const Infrastructure& infra,
                         const std::string& trigger, std::ostream& out, std::ostream& err) {
  auto problem = ProblemForStatus(wf, profiles, infra, wf.status);  // as the daemon would plan it
  if (!problem.ok()) {
    err << "jbctl plan --what-if: workflow " << wf.metadata.name << ": " << problem.status().message() << "\n";
    return false;
  }
  auto solved = planner::Solve(*problem, planner::SolverOptions{"auto", 10});
  out << "Workflow " << wf.metadata.name << ":\n";
  // No plan meets the SLO: the daemon deploys the best degraded plan (the same search).
  std::optional<Plan> degraded;
  Condition why;
  if (!solved.ok() && solved.status().code() == Status::Code::kInfeasible) {
    planner::SolveLimits limits;
    limits.deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    degraded = BestDegradedPlan(wf, profiles, infra, wf.status, limits, 10, &why);
  }
  if (!solved.ok() && !degraded) {
    out << "  would not be planned: " << solved.status().message() << "\n";
    return true;
  }
  if (degraded)
    out << "  no plan meets the SLO (" << solved.status().message() << "); degraded (" << why.reason
        << "): " << why.message << "\n";
  const Plan& next = degraded ? *degraded : solved->plan;
  if (!wf.status.plan) {
    out << "  not planned yet; would cost " << FormatFixed(next.cost.total_per_hour, 4) << " $/h at accuracy "
        << FormatFixed(next.accuracy, 2) << "\n";
    return true;
  }
  PrintDecision(wf, profiles, infra, *problem, next, trigger, out);
  return true;
}

}  // namespace

int WhatIf(const Remote& r, std::ostream& out, std::ostream& err) {
  std::vector<std::string> paths;
  for (size_t i = 0; i < r.rest.size(); ++i) {
    if ((r.rest[i] == "-f" || r.rest[i] == "--filename") && i + 1 < r.rest.size())
      paths.push_back(r.rest[++i]);
    else {
      err << "jbctl plan --what-if: unexpected argument \"" << r.rest[i]
          << "\"; usage: jbctl plan --what-if -f FILE|DIR\n";
      return 1;
    }
  }
  if (paths.empty()) {
    err << "jbctl plan --what-if: expected -f FILE|DIR\n";
    return 1;
  }
  // The daemon's objects, with the local ones in place of those of the same kind and name.
  Objects objects;
  std::set<ObjectKey> changed;
  if (!FetchServerObjects(r, objects, err) || !OverlayLocal(paths, objects, changed, err) ||
      !ValidateCombined(objects, changed, err))
    return 1;
  int shown = 0;
  for (const auto& [key, obj] : objects) {
    if (key.first != "Workflow") continue;
    const auto& wf = std::get<Workflow>(obj);
    bool affected = changed.count(key) != 0 || changed.count({"Infrastructure", wf.spec.infrastructure}) != 0;
    std::vector<ModelProfile> profiles;
    for (const auto& op : wf.spec.operators) {
      affected |= changed.count({"ModelProfile", op.profile}) != 0;
      auto it = objects.find({"ModelProfile", op.profile});
      if (it != objects.end() && std::find_if(profiles.begin(), profiles.end(), [&](const ModelProfile& m) {
                                   return m.metadata.name == op.profile;
                                 }) == profiles.end())
        profiles.push_back(std::get<ModelProfile>(it->second));
    }
    if (!affected) continue;
    ++shown;
    // The trigger the daemon would record: the kind of a changed input, first in the order it checks.
    std::string trigger = changed.count({"Infrastructure", wf.spec.infrastructure}) != 0 ? "Infrastructure"
                          : changed.count(key) == 0 ? "ModelProfile"  // affected, so by a profile
                                                    : "Workflow";
    const auto& infra = std::get<Infrastructure>(objects.at({"Infrastructure", wf.spec.infrastructure}));
    if (!PrintWorkflowWhatIf(wf, profiles, infra, trigger, out, err)) return 1;
  }
  if (shown == 0) out << "no Workflow is affected by these manifests\n";
  out << "nothing was applied\n";
  return 0;
}

}  // namespace jb::cli
