// Formulation: the planning MILP of DESIGN.md §4 with key-range routing, built from a Problem.
//
//   x[o][v]    binary   operator o uses variant v
//   z[c]       binary   (table mode) combination c of the accuracy table is used
//   y[o][v][n] >= 0     items/s of o (variant v) served on node n
//   T[o][v][k] >= 0     share of o's keys (variant v) on tier k   (k < K-1)
//   u[n]       integer  instances of node n rented (0..count)
//   w[o][n]    integer  (exclusive) instances of n dedicated to o
//   up/down    >= 0     share of an edge's items crossing boundary b upward / downward
//
// Key intervals are laid out in tier order, so with F_o(b) = Σ_{k<=b} Σ_v T[o][v][k] the items of
// edge (u -> o) crossing boundary b upward are exactly max(0, F_u(b) - F_o(b)) (downward the
// reverse); minimisation makes up >= F_u - F_o, up >= 0 tight. When u's output size depends on its
// variant, the inequality is written per variant and switched off by (1 - x[u][v]).
// The answers' way back (Problem::results) goes to the sink, which holds every key on its tier: its
// crossing shares are affine (F_u(b) upward below the sink's tier, x[u][v] - F_u(b) downward at or
// above it), like a source edge's, so it needs no columns of its own.
// Thread-safety: plain values.
#pragma once

#include <vector>

#include "planner/linear_model.h"
#include "planner/problem.h"
#include "planner/solution.h"

namespace jb::planner {

struct Formulation {
  LinearModel model;
  std::vector<std::vector<int>> x;                      // [o][v], -1 when the variant is not allowed
  std::vector<std::vector<std::vector<int>>> y;         // [o][v][n], -1 when not runnable
  std::vector<int> u;                                   // [n], -1 when the node is not allowed
  std::vector<std::vector<int>> w;                      // [o][n] (exclusive mode), -1 when unused
  std::vector<int> z;                                   // table combination columns
  std::vector<size_t> z_combo;                          // the table combination of each z column
  std::vector<std::vector<int>> link_row;               // [o][v]: Σ_n y - r x = 0, -1 when absent
  std::vector<std::vector<std::vector<int>>> tier_row;  // [o][v][k]: Σ_{n in k} y - r T = 0
  std::vector<int> cap_row;                             // [n] shared mode: Σ y / cap - u <= 0
  std::vector<std::vector<int>> op_cap_row;             // [o][n] exclusive mode: Σ_v y / cap - w <= 0
  std::vector<int> dedicated_row;                       // [n] exclusive mode: Σ_o w - u <= 0
  std::vector<int> bandwidth_rows;                      // rows of capped links (for diagnosis)
  std::vector<std::string> bandwidth_names;             // "edge -> cloud" per bandwidth row
};

// Which (operator, variant, node) rate columns a model contains: [o][v][n]. nullptr = all.
using ColumnMask = std::vector<std::vector<std::vector<char>>>;

// Builds the model. Variants that cannot reach the accuracy floor on their own (min composition)
// or appear in no acceptable table entry are left out. With `mask`, only the masked rate columns
// (and the nodes they touch) are created: a restricted model for column generation.
Formulation Formulate(const Problem& p, const ColumnMask* mask = nullptr);

// Reads a solution out of a full column vector; `objective` includes the model's offset.
Solution Decode(const Problem& p, const Formulation& f, const std::vector<double>& values, double objective);

}  // namespace jb::planner
