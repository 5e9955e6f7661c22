// LinearModel: a solver-neutral (MI)LP, and the backend that solves it with COIN-OR CLP (LP) and
// CBC (MILP). CBC/CLP headers stay inside planner/cbc_backend.cc.
// Thread-safety: a LinearModel is a plain value; an LpSession is single-threaded.
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "base/status.h"

namespace jb::planner {

struct LinearModel {
  struct Row {
    std::vector<int> idx;
    std::vector<double> val;
    double lo, hi;
  };
  std::vector<double> lb, ub, obj;
  std::vector<char> integer;
  std::vector<Row> rows;
  double obj_offset = 0;  // constant added to every objective value reported by the backend

  int AddCol(double lo, double hi, double cost, bool is_int) {
    lb.push_back(lo);
    ub.push_back(hi);
    obj.push_back(cost);
    integer.push_back(is_int ? 1 : 0);
    return static_cast<int>(lb.size()) - 1;
  }
  int AddRow(std::vector<int> idx, std::vector<double> val, double lo, double hi) {
    rows.push_back(Row{std::move(idx), std::move(val), lo, hi});
    return static_cast<int>(rows.size()) - 1;
  }
  int cols() const { return static_cast<int>(lb.size()); }
};

// Hard limits of a solve, checked by CLP at every simplex iteration and by CBC at every node (its
// own time limit, MipOptions::time_limit_s, is the soft one): a wall-clock deadline and a
// cancellation flag another thread may set (shutdown). A solve stopped by them reports
// kDeadlineExceeded or kUnavailable ("cancelled"), never "infeasible".
// Thread-safety: a plain value; `cancel` is borrowed and must outlive the solves that use it.
struct SolveLimits {
  std::chrono::steady_clock::time_point deadline = std::chrono::steady_clock::time_point::max();
  const std::atomic<bool>* cancel = nullptr;

  bool Cancelled() const { return cancel != nullptr && cancel->load(std::memory_order_relaxed); }
  bool Expired() const { return Cancelled() || std::chrono::steady_clock::now() >= deadline; }
  bool Unlimited() const;  // no deadline and no flag: solves run exactly as without limits
  // Seconds until the deadline (a large number when there is none).
  double SecondsLeft() const;
  // Why a solve stopped: Unavailable when cancelled, else DeadlineExceeded.
  Status Why() const;
};

// Largest magnitude of any finite coefficient, bound or right-hand side handed to CLP/CBC. CLP
// aborts the process (an assertion) on objective coefficients of 1e25 and treats bounds beyond
// 1e20 as infinite; the planner's own input limits (planner/problem.h) keep every model far below
// this, and the backend refuses a model above it instead of passing it on.
inline constexpr double kMaxModelMagnitude = 1e15;

// OK when every number of `m` is finite (bounds may be infinite) and within kMaxModelMagnitude;
// else InvalidArgument naming the first offending column or row and the value.
Status CheckModel(const LinearModel& m);

struct MipOptions {
  double time_limit_s = 10;
  const std::vector<double>* warm_start = nullptr;  // full column vector of a feasible solution
  // Root cuts. kAll: probing, Gomory, knapsack cover, MIR and flow cover. kLight: probing and flow
  // cover only; on a placement with the variants fixed (1000 x 50 x 5) Gomory and MIR cost
  // seconds without moving the bound, and CBC proves the optimum in 2.9 s instead of 7.3 s.
  enum class Cuts { kAll, kLight } cuts = Cuts::kAll;
  SolveLimits limits;  // hard limits on top of time_limit_s
};

struct MipResult {
  std::vector<double> values;  // best solution found
  double objective = 0;        // includes obj_offset
  double bound = 0;            // proven lower bound, includes obj_offset
  bool optimal = false;        // proven optimal within CBC's tolerances
  int nodes = 0;
};

// Solves the MILP with CBC. kInfeasible when no integer solution exists; kDeadlineExceeded when the
// time limit (or opts.limits' deadline) passed before any solution was found; kUnavailable when
// cancelled first; kInvalidArgument when CheckModel refuses the model (CBC is not called).
// A solve cut short by opts.limits keeps its best solution but reports the trivial bound 0 (node
// LPs may have been interrupted; every plan costs at least 0).
StatusOr<MipResult> SolveMip(const LinearModel& m, const MipOptions& opts);

// An LP (integrality ignored) that can be re-solved cheaply after bound changes (dual simplex
// warm start). Used by the heuristic and for LP bounds.
class LpSession {
 public:
  // The model is checked (CheckModel) first; a refused model makes every Solve() return the error
  // without calling CLP.
  explicit LpSession(const LinearModel& m, SolveLimits limits = {});
  ~LpSession();
  LpSession(const LpSession&) = delete;
  LpSession& operator=(const LpSession&) = delete;

  void SetColBounds(int col, double lo, double hi);
  void SetRowBounds(int row, double lo, double hi);
  // OK when optimal; kInfeasible when infeasible; limits.Why() when the limits stopped it (or had
  // already passed); the CheckModel error for a refused model.
  Status Solve();
  double objective() const;  // includes obj_offset
  const double* values() const;
  double col_lower(int col) const;
  // Row duals of the last solve: reduced cost of a column = c - Σ_i dual_i a_i.
  const double* row_duals() const;
  // Reduced costs of the columns in the last solve.
  const double* reduced_costs() const;
  double col_upper(int col) const;

 private:
  Status SolveUnguarded();

  struct Impl;
  std::unique_ptr<Impl> impl_;
  double offset_ = 0;
  bool solved_once_ = false;
  Status refused_;  // CheckModel's verdict
  SolveLimits limits_;
};

}  // namespace jb::planner
