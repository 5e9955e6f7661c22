// The only file that sees COIN-OR headers.
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
#include <CoinPackedMatrix.hpp>
#include <OsiClpSolverInterface.hpp>

#include <cmath>

#include "planner/linear_model.h"

namespace jb::planner {

namespace {

void Load(const LinearModel& m, OsiClpSolverInterface* si) {
  CoinPackedMatrix mat(false, 0, 0);
  mat.setDimensions(0, m.cols());
  std::vector<double> rlo, rhi;
  rlo.reserve(m.rows.size());
  rhi.reserve(m.rows.size());
  for (const auto& r : m.rows) {
    mat.appendRow(static_cast<int>(r.idx.size()), r.idx.data(), r.val.data());
    rlo.push_back(std::isinf(r.lo) ? -COIN_DBL_MAX : r.lo);
    rhi.push_back(std::isinf(r.hi) ? COIN_DBL_MAX : r.hi);
  }
  std::vector<double> clo(m.lb), chi(m.ub);
  for (auto& v : chi)
    if (std::isinf(v)) v = COIN_DBL_MAX;
  si->loadProblem(mat, clo.data(), chi.data(), m.obj.data(), rlo.data(), rhi.data());
  si->setObjSense(1.0);
  si->messageHandler()->setLogLevel(0);
  si->getModelPtr()->setLogLevel(0);
}

}  // namespace

StatusOr<MipResult> SolveMip(const LinearModel& m, const MipOptions& opts) {
  OsiClpSolverInterface si;
  Load(m, &si);
  for (int j = 0; j < m.cols(); ++j)
    if (m.integer[static_cast<size_t>(j)]) si.setInteger(j);
  si.initialSolve();
  if (si.isProvenPrimalInfeasible() || si.isProvenDualInfeasible())
    return Status::Infeasible("the LP relaxation is infeasible");
  CbcModel model(si);
  model.setLogLevel(0);
  model.messageHandler()->setLogLevel(0);
  model.solver()->messageHandler()->setLogLevel(0);
  // Wall-clock seconds: CBC's default is the process's CPU time, which runs faster than the clock
  // while other threads (the heuristic's bound search) work.
  model.setUseElapsedTime(true);
  model.setMaximumSeconds(opts.time_limit_s);
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
    for (int j = 0; j < m.cols(); ++j) obj += m.obj[static_cast<size_t>(j)] * (*opts.warm_start)[static_cast<size_t>(j)];
    model.setBestSolution(opts.warm_start->data(), m.cols(), obj, true);
  }
  model.branchAndBound();
  if (model.bestSolution() == nullptr) {
    if (model.isProvenInfeasible()) return Status::Infeasible("no integer solution exists");
    return Status::DeadlineExceeded("no solution found within the time limit");
  }
  MipResult res;
  res.values.assign(model.bestSolution(), model.bestSolution() + m.cols());
  res.objective = model.getObjValue() + m.obj_offset;
  res.bound = std::min(model.getBestPossibleObjValue(), model.getObjValue()) + m.obj_offset;
  res.optimal = model.isProvenOptimal() && !model.isSecondsLimitReached();
  if (res.optimal) res.bound = res.objective;
  res.nodes = model.getNodeCount();
  return res;
}

struct LpSession::Impl {
  OsiClpSolverInterface si;
};

LpSession::LpSession(const LinearModel& m) : impl_(std::make_unique<Impl>()), offset_(m.obj_offset) { Load(m, &impl_->si); }
LpSession::~LpSession() = default;

void LpSession::SetColBounds(int col, double lo, double hi) {
  impl_->si.setColBounds(col, lo, std::isinf(hi) ? COIN_DBL_MAX : hi);
}
void LpSession::SetRowBounds(int row, double lo, double hi) {
  impl_->si.setRowBounds(row, std::isinf(lo) ? -COIN_DBL_MAX : lo, std::isinf(hi) ? COIN_DBL_MAX : hi);
}

Status LpSession::Solve() {
  if (!solved_once_) {
    impl_->si.initialSolve();
    solved_once_ = true;
  } else {
    impl_->si.resolve();
  }
  if (impl_->si.isProvenOptimal()) return Status::Ok();
  if (impl_->si.isProvenPrimalInfeasible()) return Status::Infeasible("LP infeasible");
  // Numerical trouble: retry from scratch once.
  impl_->si.initialSolve();
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
