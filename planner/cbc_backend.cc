// The only file that sees COIN-OR headers.
#include <CbcEventHandler.hpp>
#include <CbcHeuristic.hpp>
#include <CbcHeuristicFPump.hpp>
#include <CbcHeuristicLocal.hpp>
#include <CbcHeuristicRINS.hpp>
#include <CbcModel.hpp>
#include <CglFlowCover.hpp>
#include <CglGomory.hpp>
#include <CglKnapsackCover.hpp>
#include <CglMixedIntegerRounding2.hpp>
#include <CglProbing.hpp>
#include <ClpEventHandler.hpp>
#include <CoinError.hpp>
#include <CoinPackedMatrix.hpp>
#include <OsiClpSolverInterface.hpp>
#include <cmath>
#include <cstdio>
#include <memory>

#include "planner/linear_model.h"

namespace jb::planner {

double SolveLimits::SecondsLeft() const {
  if (deadline == std::chrono::steady_clock::time_point::max()) return 1e9;
  return std::chrono::duration<double>(deadline - std::chrono::steady_clock::now()).count();
}

bool SolveLimits::Unlimited() const {
  return cancel == nullptr && deadline == std::chrono::steady_clock::time_point::max();
}

Status SolveLimits::Why() const {
  if (Cancelled()) return Status::Unavailable("planning cancelled");
  return Status::DeadlineExceeded("the planning budget ran out");
}

Status CheckModel(const LinearModel& m) {
  auto bad = [](double v, bool may_be_infinite) {
    if (std::isnan(v)) return true;
    if (std::isinf(v)) return !may_be_infinite;
    return std::fabs(v) > kMaxModelMagnitude;
  };
  auto refuse = [](const std::string& what, double v) {
    char buf[64];
    std::snprintf(buf, sizeof(buf), "%g", v);
    char max[32];
    std::snprintf(max, sizeof(max), "%g", kMaxModelMagnitude);
    return Status::InvalidArgument("the planning model has " + what + " = " + buf +
                                   ", beyond what the solver can take (finite, at most " + max +
                                   " in magnitude); an input number is too large or too small");
  };
  for (size_t j = 0; j < m.obj.size(); ++j) {
    if (bad(m.obj[j], false)) return refuse("the cost of column " + std::to_string(j), m.obj[j]);
    if (bad(m.lb[j], true)) return refuse("the lower bound of column " + std::to_string(j), m.lb[j]);
    if (bad(m.ub[j], true)) return refuse("the upper bound of column " + std::to_string(j), m.ub[j]);
  }
  if (bad(m.obj_offset, false)) return refuse("the constant cost", m.obj_offset);
  for (size_t i = 0; i < m.rows.size(); ++i) {
    const auto& r = m.rows[i];
    for (double v : r.val)
      if (bad(v, false)) return refuse("a coefficient of row " + std::to_string(i), v);
    if (bad(r.lo, true)) return refuse("the lower limit of row " + std::to_string(i), r.lo);
    if (bad(r.hi, true)) return refuse("the upper limit of row " + std::to_string(i), r.hi);
  }
  return Status::Ok();
}

namespace {

// Stops CLP at the end of an iteration once the limits have passed. CLP clones its handler into
// every copy of the model (presolve, CBC's solvers, cut generators); the clones share `fired`.
class ClpLimitHandler : public ClpEventHandler {
 public:
  ClpLimitHandler(SolveLimits limits, std::shared_ptr<std::atomic<bool>> fired)
      : limits_(limits), fired_(std::move(fired)) {}
  int event(Event which) override {
    if (which != endOfIteration && which != endOfFactorization) return -1;
    if (!limits_.Expired()) return -1;
    fired_->store(true);
    return 0;  // ClpModel::status() 5: stopped by event
  }
  ClpEventHandler* clone() const override { return new ClpLimitHandler(*this); }

 private:
  SolveLimits limits_;
  // Shared with the clones CLP makes (it owns and deletes them), so it outlives any of them.
  std::shared_ptr<std::atomic<bool>> fired_;
};

// The same for CBC, between nodes and heuristic passes.
class CbcLimitHandler : public CbcEventHandler {
 public:
  CbcLimitHandler(SolveLimits limits, std::shared_ptr<std::atomic<bool>> fired)
      : limits_(limits), fired_(std::move(fired)) {}
  CbcAction event(CbcEvent) override {
    if (!limits_.Expired()) return noAction;
    fired_->store(true);
    return stop;
  }
  CbcEventHandler* clone() const override { return new CbcLimitHandler(*this); }

 private:
  SolveLimits limits_;
  std::shared_ptr<std::atomic<bool>> fired_;
};

void Load(const LinearModel& m, OsiClpSolverInterface* si) {
  // The row-ordered matrix in one piece: appending rows one at a time reallocates the whole matrix
  // on every row (quadratic: ~20 s for the 60,000-column model of 1,000 operators x 20 nodes).
  std::vector<double> elements, rlo, rhi;
  std::vector<int> indices, lengths;
  std::vector<CoinBigIndex> starts;
  size_t nnz = 0;
  for (const auto& r : m.rows) nnz += r.idx.size();
  elements.reserve(nnz);
  indices.reserve(nnz);
  starts.reserve(m.rows.size() + 1);
  lengths.reserve(m.rows.size());
  rlo.reserve(m.rows.size());
  rhi.reserve(m.rows.size());
  for (const auto& r : m.rows) {
    starts.push_back(static_cast<CoinBigIndex>(elements.size()));
    lengths.push_back(static_cast<int>(r.idx.size()));
    elements.insert(elements.end(), r.val.begin(), r.val.end());
    indices.insert(indices.end(), r.idx.begin(), r.idx.end());
    rlo.push_back(std::isinf(r.lo) ? -COIN_DBL_MAX : r.lo);
    rhi.push_back(std::isinf(r.hi) ? COIN_DBL_MAX : r.hi);
  }
  starts.push_back(static_cast<CoinBigIndex>(elements.size()));
  CoinPackedMatrix mat(false, m.cols(), static_cast<int>(m.rows.size()), static_cast<CoinBigIndex>(elements.size()),
                       elements.data(), indices.data(), starts.data(), lengths.data());
  std::vector<double> clo(m.lb), chi(m.ub);
  for (auto& v : chi)
    if (std::isinf(v)) v = COIN_DBL_MAX;
  si->loadProblem(mat, clo.data(), chi.data(), m.obj.data(), rlo.data(), rhi.data());
  si->setObjSense(1.0);
  si->messageHandler()->setLogLevel(0);
  si->getModelPtr()->setLogLevel(0);
}

}  // namespace

namespace {

// COIN-OR reports some errors by throwing CoinError; no exception leaves this file.
template <class F>
auto Guarded(F&& f) -> decltype(f()) {
  try {
    return f();
  } catch (const CoinError& e) {
    return Status::Internal("COIN-OR solver error: " + e.message() + " (" + e.methodName() + ")");
  } catch (const std::exception& e) {
    return Status::Internal(std::string("solver error: ") + e.what());
  }
}

StatusOr<MipResult> SolveMipUnguarded(const LinearModel& m, const MipOptions& opts) {
  if (opts.limits.Expired()) return opts.limits.Why();
  auto fired = std::make_shared<std::atomic<bool>>(false);
  OsiClpSolverInterface si;
  Load(m, &si);
  // Handlers only when there are limits: without them the solve is exactly the unlimited one.
  ClpLimitHandler clp_stop(opts.limits, fired);
  if (!opts.limits.Unlimited()) si.getModelPtr()->passInEventHandler(&clp_stop);
  for (int j = 0; j < m.cols(); ++j)
    if (m.integer[static_cast<size_t>(j)]) si.setInteger(j);
  si.initialSolve();
  if (fired->load()) return opts.limits.Why();
  if (si.isProvenPrimalInfeasible() || si.isProvenDualInfeasible())
    return Status::Infeasible("the LP relaxation is infeasible");
  CbcModel model(si);
  CbcLimitHandler cbc_stop(opts.limits, fired);
  if (!opts.limits.Unlimited()) model.passInEventHandler(&cbc_stop);
  model.setLogLevel(0);
  model.messageHandler()->setLogLevel(0);
  model.solver()->messageHandler()->setLogLevel(0);
  // Wall-clock seconds: CBC's default is the process's CPU time, which runs faster than the clock
  // while other threads (the heuristic's bound search) work.
  model.setUseElapsedTime(true);
  model.setMaximumSeconds(std::max(0.0, std::min(opts.time_limit_s, opts.limits.SecondsLeft())));
  model.setAllowableGap(1e-7);
  model.setAllowableFractionGap(1e-9);
  model.setIntegerTolerance(1e-7);

  CglProbing probing;
  probing.setUsingObjective(true);
  probing.setMaxPass(3);
  probing.setMaxProbe(100);
  probing.setMaxLook(50);
  CglGomory gomory;
  gomory.setLimit(300);
  CglKnapsackCover knapsack;
  CglMixedIntegerRounding2 mir;
  CglFlowCover flow;
  model.addCutGenerator(&probing, -1, "Probing");
  if (opts.cuts == MipOptions::Cuts::kAll) {
    model.addCutGenerator(&gomory, -1, "Gomory");
    model.addCutGenerator(&knapsack, -1, "Knapsack");
    model.addCutGenerator(&mir, -1, "MIR2");
  }
  model.addCutGenerator(&flow, -1, "FlowCover");
  CbcRounding rounding(model);
  model.addHeuristic(&rounding);
  CbcHeuristicFPump pump(model);
  model.addHeuristic(&pump);
  CbcHeuristicLocal local(model);
  model.addHeuristic(&local);
  CbcHeuristicRINS rins(model);
  model.addHeuristic(&rins);

  if (opts.warm_start != nullptr && static_cast<int>(opts.warm_start->size()) == m.cols()) {
    double obj = 0;
    for (int j = 0; j < m.cols(); ++j)
      obj += m.obj[static_cast<size_t>(j)] * (*opts.warm_start)[static_cast<size_t>(j)];
    model.setBestSolution(opts.warm_start->data(), m.cols(), obj, true);
  }
  model.branchAndBound();
  const bool cut_short = fired->load();
  if (model.bestSolution() == nullptr) {
    if (cut_short) return opts.limits.Why();
    if (model.isProvenInfeasible()) return Status::Infeasible("no integer solution exists");
    return Status::DeadlineExceeded("no solution found within the time limit");
  }
  MipResult res;
  res.values.assign(model.bestSolution(), model.bestSolution() + m.cols());
  res.objective = model.getObjValue() + m.obj_offset;
  res.bound = std::min(model.getBestPossibleObjValue(), model.getObjValue()) + m.obj_offset;
  res.optimal = model.isProvenOptimal() && !model.isSecondsLimitReached();
  if (res.optimal) res.bound = res.objective;
  if (cut_short) {
    // An interrupted node LP may have reported any value: only the trivial bound is sure.
    res.optimal = false;
    res.bound = std::min(0.0, res.objective);
  }
  res.nodes = model.getNodeCount();
  return res;
}

}  // namespace

StatusOr<MipResult> SolveMip(const LinearModel& m, const MipOptions& opts) {
  if (auto s = CheckModel(m); !s.ok()) return s;
  return Guarded([&]() -> StatusOr<MipResult> { return SolveMipUnguarded(m, opts); });
}

struct LpSession::Impl {
  OsiClpSolverInterface si;
  std::shared_ptr<std::atomic<bool>> fired = std::make_shared<std::atomic<bool>>(false);
};

LpSession::LpSession(const LinearModel& m, SolveLimits limits)
    : impl_(std::make_unique<Impl>()), offset_(m.obj_offset), refused_(CheckModel(m)), limits_(limits) {
  if (!refused_.ok()) return;  // CLP never sees a model it could abort on
  refused_ = Guarded([&]() -> Status {
    Load(m, &impl_->si);
    ClpLimitHandler stop(limits_, impl_->fired);
    if (!limits_.Unlimited()) impl_->si.getModelPtr()->passInEventHandler(&stop);
    return Status::Ok();
  });
}
LpSession::~LpSession() = default;

void LpSession::SetColBounds(int col, double lo, double hi) {
  if (!refused_.ok()) return;
  impl_->si.setColBounds(col, lo, std::isinf(hi) ? COIN_DBL_MAX : hi);
}
void LpSession::SetRowBounds(int row, double lo, double hi) {
  if (!refused_.ok()) return;
  impl_->si.setRowBounds(row, std::isinf(lo) ? -COIN_DBL_MAX : lo, std::isinf(hi) ? COIN_DBL_MAX : hi);
}

Status LpSession::Solve() {
  if (!refused_.ok()) return refused_;
  return Guarded([&]() -> Status { return SolveUnguarded(); });
}

Status LpSession::SolveUnguarded() {
  if (limits_.Expired()) return limits_.Why();
  impl_->fired->store(false);
  if (!solved_once_) {
    impl_->si.initialSolve();
    solved_once_ = true;
  } else {
    impl_->si.resolve();
  }
  if (impl_->fired->load()) return limits_.Why();
  if (impl_->si.isProvenOptimal()) return Status::Ok();
  if (impl_->si.isProvenPrimalInfeasible()) return Status::Infeasible("LP infeasible");
  // Numerical trouble: retry from scratch once.
  impl_->si.initialSolve();
  if (impl_->fired->load()) return limits_.Why();
  if (impl_->si.isProvenOptimal()) return Status::Ok();
  return Status::Infeasible("LP infeasible or unbounded");
}

double LpSession::objective() const { return impl_->si.getObjValue() + offset_; }
const double* LpSession::values() const { return impl_->si.getColSolution(); }
const double* LpSession::row_duals() const { return impl_->si.getRowPrice(); }
const double* LpSession::reduced_costs() const { return impl_->si.getReducedCost(); }
double LpSession::col_lower(int col) const { return impl_->si.getColLower()[col]; }
double LpSession::col_upper(int col) const { return impl_->si.getColUpper()[col]; }

}  // namespace jb::planner
