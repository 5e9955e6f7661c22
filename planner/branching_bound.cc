// BranchingBound (solver.h): a lower bound at least as strong as the LP relaxation's, by a short
// best-first branch and bound with strong branching.
#include <algorithm>
#include <atomic>
#include <cmath>
#include <utility>
#include <vector>

#include "planner/formulation.h"
#include "planner/linear_model.h"
#include "planner/solver.h"
#include "planner/solver_internal.h"

namespace jb::planner {

namespace internal {

namespace {
// A lower bound at least as strong as the LP's: a short best-first branch and bound on the full
// model (all rate columns, so every child LP is exact) with strong branching: the most fractional
// integer columns (instance counts, dedicated instances, variant choices) are each tried both ways
// and the one whose weaker child is best is taken. The least LP over the open leaves bounds the
// optimum. Gives up when the model is over `kBoundColumnLimit` columns or when time is up.
constexpr int kBoundColumnLimit = 60000;
constexpr size_t kStrongCandidates = 8;
}  // namespace

double BranchingBoundUntil(const Problem& p, double lp_bound, double incumbent, Clock::time_point deadline,
                           const std::atomic<bool>* stop, const SolveLimits& lim) {
  auto over = [&] { return Clock::now() >= deadline || stop->load(std::memory_order_relaxed) || lim.Expired(); };
  if (over()) return lp_bound;
  Formulation f = Formulate(p);
  if (f.model.cols() > kBoundColumnLimit) return lp_bound;
  LpSession lp(f.model, lim);
  if (!lp.Solve().ok()) return lp_bound;
  std::vector<int> ints;
  for (int j = 0; j < f.model.cols(); ++j)
    if (f.model.integer[static_cast<size_t>(j)]) ints.push_back(j);
  struct Node {
    double lp = 0;
    std::vector<std::pair<double, double>> range;  // per integer column: its bounds here
  };
  Node root{lp.objective(), {}};
  for (int j : ints) root.range.emplace_back(f.model.lb[static_cast<size_t>(j)], f.model.ub[static_cast<size_t>(j)]);
  auto apply = [&](const Node& nd) {
    for (size_t i = 0; i < ints.size(); ++i) lp.SetColBounds(ints[i], nd.range[i].first, nd.range[i].second);
  };
  auto by_lp = [](const Node& a, const Node& b) { return a.lp > b.lp; };
  std::vector<Node> open;      // min-heap on lp
  double settled = incumbent;  // least LP of the leaves that are integral everywhere
  open.push_back(root);
  while (!open.empty() && !over()) {
    std::pop_heap(open.begin(), open.end(), by_lp);
    Node nd = std::move(open.back());
    open.pop_back();
    if (nd.lp >= incumbent - 1e-9) continue;
    apply(nd);
    if (!lp.Solve().ok()) {
      // Only numerical trouble gets here (its LP was solved when it was made): keep its value.
      settled = std::min(settled, nd.lp);
      continue;
    }
    std::vector<std::pair<double, size_t>> fractional;
    for (size_t i = 0; i < ints.size(); ++i) {
      double x = lp.values()[ints[i]], fr = x - std::floor(x);
      if (fr > 1e-6 && fr < 1 - 1e-6) fractional.emplace_back(-std::min(fr, 1 - fr), i);
    }
    if (fractional.empty()) {
      settled = std::min(settled, nd.lp);
      continue;
    }
    std::sort(fractional.begin(), fractional.end());
    if (fractional.size() > kStrongCandidates) fractional.resize(kStrongCandidates);
    std::vector<double> at(ints.size(), 0.0);
    for (const auto& [neg, i] : fractional) at[i] = lp.values()[ints[i]];
    double best_min = -kInf;
    Node best_down, best_up;
    for (const auto& [neg, i] : fractional) {
      if (over()) break;
      Node down = nd, up = nd;
      down.range[i].second = std::floor(at[i]);
      up.range[i].first = std::ceil(at[i]);
      // A child whose LP fails keeps its parent's value: weaker, never wrong (an infeasible child
      // could be dropped, but CLP's "infeasible" also covers numerical trouble).
      apply(down);
      down.lp = lp.Solve().ok() ? lp.objective() : nd.lp;
      apply(up);
      up.lp = lp.Solve().ok() ? lp.objective() : nd.lp;
      if (std::min(down.lp, up.lp) > best_min) {
        best_min = std::min(down.lp, up.lp);
        best_down = std::move(down);
        best_up = std::move(up);
      }
    }
    if (best_min == -kInf) {  // out of time before any candidate: the node stays open
      open.push_back(std::move(nd));
      std::push_heap(open.begin(), open.end(), by_lp);
      break;
    }
    for (Node* c : {&best_down, &best_up})
      if (c->lp < incumbent - 1e-9) {
        open.push_back(std::move(*c));
        std::push_heap(open.begin(), open.end(), by_lp);
      }
  }
  double b = settled;
  for (const auto& nd : open) b = std::min(b, nd.lp);
  return std::max(lp_bound, std::min(b, incumbent));
}

}  // namespace internal

double BranchingBound(const Problem& p, double time_limit_s, double incumbent) {
  if (!CheckNumbers(p).ok()) return 0;  // the trivial bound: the solver cannot take the problem
  Problem merged = AggregateNodes(p).merged;
  Formulation f = Formulate(merged);
  LpSession lp(f.model);
  if (!lp.Solve().ok()) return kInf;
  std::atomic<bool> stop{false};
  auto deadline = internal::DeadlineIn(time_limit_s);
  return internal::BranchingBoundUntil(merged, lp.objective(), incumbent, deadline, &stop, SolveLimits{});
}

}  // namespace jb::planner
