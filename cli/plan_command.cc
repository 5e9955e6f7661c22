#include <algorithm>
#include <chrono>
#include <cstdio>
#include <iomanip>
#include <optional>
#include <sstream>

#include "api/manifest.h"
#include "cli/cli_util.h"
#include "cli/commands.h"
#include "planner/scorer.h"
#include "planner/solver.h"

namespace jb {

namespace {

const char* kPlanUsage = R"(Usage: jbctl plan -f FILE|DIR [-f ...] [options]

Plans a workflow offline from manifests (Workflow + its ModelProfiles + its Infrastructure).

Options:
  --workflow NAME        which Workflow to plan (default: the only one)
  --baseline NAME        also plan a baseline: cloud-only | most-accurate | prototype (repeatable)
  -o table|json|yaml     output format (default table)
  --exclusive | --shared one operator per node, or shared nodes (default: the workflow's option)
  --no-downward          forbid traffic from a higher tier to a lower one (the prototype's rule)
  --percentile p50|p75|p90
  --headroom H           usable fraction of node capacity, (0, 1]
  --min-accuracy A       override the workflow's accuracy floor
  --rate-scale X         multiply every source rate by X
  --solver auto|exact|heuristic   (default auto)
  --time-limit SECONDS   solver budget (default 10); planning stops at it plus max(1 s, 10%) at the latest

  --what-if              against the running jellybeand: the objects in -f replace the daemon's of
                         the same kind and name; prints, per affected Workflow, the plan that would
                         result as a diff against the running one (variants, nodes and workers
                         moved, cost and accuracy delta) and whether the damping would adopt it.
                         Nothing is applied. Connection flags as for jbctl get.
)";

// The parsed command line of jbctl plan (without --what-if).
struct PlanArgs {
  std::vector<std::string> paths, baselines;
  std::string workflow_name, output = "table";
  planner::ProblemOptions popts;
  planner::SolverOptions sopts;
};

// Parses `args` into `pa`. Returns the exit status when the command ends here (help: 0, a bad
// argument: 1, with the reason on `err`), nullopt to go on. A flag missing its value ends the
// parsing (the checks after it report what is then missing).
std::optional<int> ParsePlanArgs(const std::vector<std::string>& args, PlanArgs& pa, std::ostream& out,
                                 std::ostream& err) {
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    auto next = [&](std::string* v) {
      if (i + 1 >= args.size()) return false;
      *v = args[++i];
      return true;
    };
    auto number = [&](std::optional<double>* v) {
      std::string s;
      if (!next(&s)) return false;
      char* end = nullptr;
      double d = std::strtod(s.c_str(), &end);
      if (end == s.c_str() || *end != '\0') return false;
      *v = d;
      return true;
    };
    std::string s;
    if (a == "-h" || a == "--help") {
      out << kPlanUsage;
      return 0;
    } else if (a == "-f" || a == "--filename") {
      if (!next(&s)) break;
      pa.paths.push_back(s);
    } else if (a == "--workflow") {
      if (!next(&pa.workflow_name)) break;
    } else if (a == "--baseline") {
      if (!next(&s)) break;
      if (s != "cloud-only" && s != "most-accurate" && s != "prototype") {
        err << "jbctl plan: unknown baseline \"" << s << "\"; expected cloud-only, most-accurate or prototype\n";
        return 1;
      }
      pa.baselines.push_back(s);
    } else if (a == "-o" || a == "--output") {
      if (!next(&pa.output)) break;
      if (pa.output != "table" && pa.output != "json" && pa.output != "yaml") {
        err << "jbctl plan: unknown output format \"" << pa.output << "\"; expected table, json or yaml\n";
        return 1;
      }
    } else if (a == "--exclusive") {
      pa.popts.exclusive = true;
    } else if (a == "--no-downward") {
      pa.popts.forbid_downward = true;
    } else if (a == "--shared") {
      pa.popts.exclusive = false;
    } else if (a == "--percentile") {
      std::string pc;
      if (!next(&pc)) break;
      pa.popts.percentile = pc;
    } else if (a == "--headroom") {
      if (!number(&pa.popts.headroom)) {
        err << "jbctl plan: --headroom expects a number\n";
        return 1;
      }
    } else if (a == "--min-accuracy") {
      if (!number(&pa.popts.min_accuracy)) {
        err << "jbctl plan: --min-accuracy expects a number\n";
        return 1;
      }
    } else if (a == "--rate-scale") {
      if (!number(&pa.popts.rate_scale) || !(*pa.popts.rate_scale > 0)) {
        err << "jbctl plan: --rate-scale expects a positive number\n";
        return 1;
      }
    } else if (a == "--solver") {
      if (!next(&pa.sopts.solver)) break;
    } else if (a == "--time-limit") {
      std::optional<double> t;
      if (!number(&t) || !(*t > 0)) {
        err << "jbctl plan: --time-limit expects a positive number\n";
        return 1;
      }
      pa.sopts.time_limit_s = *t;
    } else {
      err << "jbctl plan: unexpected argument \"" << a << "\"\n" << kPlanUsage;
      return 1;
    }
    if (i >= args.size()) break;
  }
  return std::nullopt;
}

// The workflow to plan, its profiles and its Infrastructure, picked out of the loaded manifests.
struct PlanInputs {
  const Workflow* wf = nullptr;
  std::vector<ModelProfile> profiles;
  const Infrastructure* inf = nullptr;
};

// Picks the workflow (the only one, or the one named `workflow_name`) and its Infrastructure out
// of `docs`; false (with the reason on `err`) when either is missing.
bool SelectInputs(const std::vector<Document>& docs, const std::string& workflow_name, PlanInputs& in,
                  std::ostream& err) {
  std::vector<const Workflow*> workflows;
  std::vector<const Infrastructure*> infras;
  for (const auto& d : docs) {
    if (auto* w = std::get_if<Workflow>(&*d.object)) workflows.push_back(w);
    if (auto* m = std::get_if<ModelProfile>(&*d.object)) in.profiles.push_back(*m);
    if (auto* i = std::get_if<Infrastructure>(&*d.object)) infras.push_back(i);
  }
  for (const auto* w : workflows)
    if (workflow_name.empty() ? workflows.size() == 1 : w->metadata.name == workflow_name) in.wf = w;
  if (in.wf == nullptr) {
    err << "jbctl plan: "
        << (workflow_name.empty() ? "expected exactly one Workflow in the input, found " +
                                        std::to_string(workflows.size()) + "; pick one with --workflow"
                                  : "no Workflow named \"" + workflow_name + "\"")
        << "\n";
    return false;
  }
  for (const auto* i : infras)
    if (i->metadata.name == in.wf->spec.infrastructure) in.inf = i;
  if (in.inf == nullptr) {
    err << "jbctl plan: Workflow " << in.wf->metadata.name << " needs Infrastructure \"" << in.wf->spec.infrastructure
        << "\", which is not in the input\n";
    return false;
  }
  return true;
}

using Baselines = std::vector<std::pair<std::string, StatusOr<planner::PlanResult>>>;

// -o json|yaml: {workflow, plan, baselines: {name: plan | {error}}}.
void PrintPlanDocument(const std::string& output, const Workflow& wf, const Plan& plan, const Baselines& extra,
                       std::ostream& out) {
  Value doc = Value::Map();
  doc.Set("workflow", Value::String(wf.metadata.name));
  doc.Set("plan", Encoder::Encode(plan));
  if (!extra.empty()) {
    Value bl = Value::Map();
    for (const auto& [name, r] : extra) {
      if (r.ok())
        bl.Set(name, Encoder::Encode(r->plan));
      else {
        Value e = Value::Map();
        e.Set("error", Value::String(r.status().message()));
        bl.Set(name, std::move(e));
      }
    }
    doc.Set("baselines", std::move(bl));
  }
  out << (output == "json" ? ToJson(doc, true) + "\n" : ToYaml(doc));
}

// The placements, cost, accuracy and solver lines, with a warning when the independent scorer
// disagrees.
void PrintPlanTable(const PlanInputs& in, const planner::Problem& problem, const Plan& plan, std::ostream& out) {
  auto score = planner::ScorePlan(problem, plan);
  out << "Workflow " << in.wf->metadata.name << " on Infrastructure " << in.inf->metadata.name << " (percentile "
      << problem.percentile << ", headroom " << FormatFixed(problem.headroom, 2) << ", "
      << (problem.exclusive ? "exclusive nodes" : "shared nodes") << ", accuracy floor "
      << FormatFixed(problem.min_accuracy, 2) << ")\n\n";
  std::vector<std::vector<std::string>> rows = {
      {"OPERATOR", "VARIANT", "NODE", "TIER", "RATE/s", "KEYS", "UTILISATION"}};
  for (const auto& pl : plan.placements)
    rows.push_back({pl.op, pl.variant, pl.node + (pl.instances > 1 ? " x" + std::to_string(pl.instances) : ""), pl.tier,
                    FormatFixed(pl.rate, 2), "[" + FormatFixed(pl.keys.lo, 3) + "," + FormatFixed(pl.keys.hi, 3) + ")",
                    FormatFixed(100 * pl.utilisation, 1) + "%"});
  PrintTable(out, rows);
  out << "\ncost:     " << FormatFixed(plan.cost.total_per_hour, 4) << " $/h  (compute "
      << FormatFixed(plan.cost.compute_per_hour, 4) << " + network " << FormatFixed(plan.cost.network_per_hour, 4)
      << ")\n";
  out << "accuracy: " << FormatFixed(plan.accuracy, 2) << " (floor " << FormatFixed(problem.min_accuracy, 2) << ")\n";
  out << "solver:   " << plan.solver << ", "
      << (plan.optimal ? "proven optimal" : "gap " + FormatFixed(100 * plan.gap, 3) + "%") << " (lower bound "
      << FormatFixed(plan.lower_bound, 4) << " $/h), " << FormatFixed(plan.solve_ms, 1) << " ms\n";
  if (!score.feasible() || std::abs(score.total - plan.cost.total_per_hour) > 1e-6 * std::max(1.0, score.total)) {
    out << "WARNING: the independent scorer disagrees with the solver (scored " << FormatFixed(score.total, 6)
        << " $/h";
    for (const auto& v : score.violations) out << "; " << v;
    out << ")\n";
  }
}

// Our plan against each baseline: cost split, accuracy and the saving.
void PrintBaselineTable(const Plan& plan, const Baselines& extra, std::ostream& out) {
  out << "\n";
  std::vector<std::vector<std::string>> cmp = {{"PLAN", "COST $/h", "COMPUTE", "NETWORK", "ACCURACY", "OURS vs IT"}};
  cmp.push_back({"ours", FormatFixed(plan.cost.total_per_hour, 4), FormatFixed(plan.cost.compute_per_hour, 4),
                 FormatFixed(plan.cost.network_per_hour, 4), FormatFixed(plan.accuracy, 2), "-"});
  for (const auto& [name, r] : extra) {
    if (!r.ok()) {
      cmp.push_back({name, "infeasible: " + r.status().message(), "", "", "", ""});
      continue;
    }
    double saving = r->plan.cost.total_per_hour > 0 ? 1 - plan.cost.total_per_hour / r->plan.cost.total_per_hour : 0;
    cmp.push_back(
        {name, FormatFixed(r->plan.cost.total_per_hour, 4), FormatFixed(r->plan.cost.compute_per_hour, 4),
         FormatFixed(r->plan.cost.network_per_hour, 4), FormatFixed(r->plan.accuracy, 2),
         (saving >= 0 ? FormatFixed(100 * saving, 1) + "% cheaper" : FormatFixed(-100 * saving, 1) + "% dearer")});
  }
  PrintTable(out, cmp);
}

}  // namespace

int PlanCommand(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  for (const auto& a : args)
    if (a == "--what-if") {
      std::vector<std::string> rest;
      for (const auto& b : args)
        if (b != "--what-if") rest.push_back(b);
      return RemoteCommand("what-if", rest, out, err);
    }
  PlanArgs pa;
  if (auto rc = ParsePlanArgs(args, pa, out, err)) return *rc;
  if (pa.paths.empty()) {
    err << "jbctl plan: expected -f FILE|DIR\n";
    return 1;
  }
  std::vector<Document> docs;
  if (size_t errors = LoadManifests(pa.paths, err, &docs); errors > 0) {
    err << "jbctl plan: the manifests are invalid (" << errors << " error(s))\n";
    return 1;
  }
  PlanInputs in;
  if (!SelectInputs(docs, pa.workflow_name, in, err)) return 1;
  const Workflow* wf = in.wf;
  const Infrastructure* inf = in.inf;
  const auto& profiles = in.profiles;
  const auto& popts = pa.popts;
  auto& sopts = pa.sopts;
  auto problem = planner::BuildProblem(*wf, profiles, *inf, popts);
  if (!problem.ok()) {
    err << "jbctl plan: " << problem.status().message() << "\n";
    return 1;
  }
  // The time limit is also a hard one: every phase stops at it plus a second's grace (CBC
  // overshoots its own limit a little; a problem too large for the limit stopped nowhere before).
  sopts.limits.deadline = std::chrono::steady_clock::now() +
                          std::chrono::duration_cast<std::chrono::steady_clock::duration>(std::chrono::duration<double>(
                              sopts.time_limit_s + std::max(1.0, 0.1 * sopts.time_limit_s)));
  auto result = planner::Solve(*problem, sopts);
  if (!result.ok()) {
    err << "jbctl plan: no plan for Workflow " << wf->metadata.name << ": " << result.status().message() << "\n";
    return 1;
  }
  Baselines extra;
  for (const auto& b : pa.baselines) {
    if (b == "cloud-only")
      extra.emplace_back(b, planner::CloudOnly(*wf, profiles, *inf, popts, sopts.time_limit_s));
    else if (b == "most-accurate")
      extra.emplace_back(b, planner::MostAccurate(*wf, profiles, *inf, popts, sopts.time_limit_s));
    else
      extra.emplace_back(b, planner::Prototype(*problem));
  }
  if (pa.output != "table") {
    PrintPlanDocument(pa.output, *wf, result->plan, extra, out);
    return 0;
  }
  PrintPlanTable(in, *problem, result->plan, out);
  if (!extra.empty()) PrintBaselineTable(result->plan, extra, out);
  return 0;
}

}  // namespace jb
