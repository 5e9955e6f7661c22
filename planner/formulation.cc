#include "planner/formulation.h"

#include <algorithm>
#include <cmath>
#include <map>

namespace jb::planner {

namespace {

// Accumulates one linear expression (column -> coefficient) plus a constant.
struct Expr {
  std::map<int, double> terms;
  double constant = 0;
  void Add(int col, double c) {
    if (col >= 0 && c != 0) terms[col] += c;
  }
};

void AddExprRow(LinearModel& m, const Expr& e, double lo, double hi) {
  std::vector<int> idx;
  std::vector<double> val;
  for (const auto& [c, v] : e.terms) {
    if (v == 0) continue;
    idx.push_back(c);
    val.push_back(v);
  }
  m.AddRow(std::move(idx), std::move(val), lo - e.constant, hi - e.constant);
}

// Which variants may be chosen at all: runnable somewhere and, without an accuracy table, able to
// reach the floor (min composition) or to contribute a finite log-accuracy (product composition).
std::vector<std::vector<bool>> AllowedVariants(const Problem& p) {
  std::vector<std::vector<bool>> allowed(p.ops.size());
  for (size_t o = 0; o < p.ops.size(); ++o) {
    for (size_t v = 0; v < p.ops[o].variants.size(); ++v) {
      bool ok = p.Runnable(static_cast<int>(o), static_cast<int>(v));
      if (!p.table && p.composition == "min") {
        const auto& a = p.ops[o].variants[v].accuracy;
        ok = ok && (a ? *a : 100.0) >= p.min_accuracy - 1e-9;
      }
      if (!p.table && p.composition == "product" && p.min_accuracy > 0) {
        const auto& a = p.ops[o].variants[v].accuracy;
        ok = ok && (a ? *a : 100.0) > 0;
      }
      allowed[o].push_back(ok);
    }
  }
  return allowed;
}

// x[o][v] and Σ_v x[o][v] = 1 per operator.
void AddVariantChoice(const Problem& p, const std::vector<std::vector<bool>>& allowed, Formulation& f) {
  LinearModel& m = f.model;
  f.x.assign(p.ops.size(), {});
  for (size_t o = 0; o < p.ops.size(); ++o) {
    for (size_t v = 0; v < p.ops[o].variants.size(); ++v)
      f.x[o].push_back(allowed[o][v] ? m.AddCol(0, 1, 0, true) : -1);
    Expr one;
    for (int c : f.x[o]) one.Add(c, 1);
    AddExprRow(m, one, 1, 1);
  }
}

// The accuracy floor: table mode picks one acceptable combination z and links it to x; product
// composition bounds Σ x log(accuracy); min composition is already enforced by AllowedVariants.
void AddAccuracy(const Problem& p, Formulation& f) {
  LinearModel& m = f.model;
  if (p.table) {
    const auto& t = *p.table;
    std::map<std::pair<size_t, int>, Expr> link;  // (table position, variant) -> x - Σ z
    for (size_t i = 0; i < t.ops.size(); ++i)
      for (size_t v = 0; v < p.ops[static_cast<size_t>(t.ops[i])].variants.size(); ++v)
        link[{i, static_cast<int>(v)}].Add(f.x[static_cast<size_t>(t.ops[i])][v], 1);
    Expr sum;
    for (size_t c = 0; c < t.combos.size(); ++c) {
      bool ok = t.accuracy[c] >= p.min_accuracy - 1e-9;
      for (size_t i = 0; i < t.ops.size(); ++i)
        ok = ok && f.x[static_cast<size_t>(t.ops[i])][static_cast<size_t>(t.combos[c][i])] >= 0;
      if (!ok) continue;
      int z = m.AddCol(0, 1, 0, true);
      f.z.push_back(z);
      f.z_combo.push_back(c);
      sum.Add(z, 1);
      for (size_t i = 0; i < t.ops.size(); ++i) link[{i, t.combos[c][i]}].Add(z, -1);
    }
    AddExprRow(m, sum, 1, 1);
    for (const auto& [key, e] : link) AddExprRow(m, e, 0, 0);
  } else if (p.composition == "product" && p.min_accuracy > 0) {
    Expr acc;
    for (size_t o = 0; o < p.ops.size(); ++o)
      for (size_t v = 0; v < p.ops[o].variants.size(); ++v) {
        const auto& a = p.ops[o].variants[v].accuracy;
        acc.Add(f.x[o][v], std::log((a ? *a : 100.0) / 100.0));
      }
    AddExprRow(m, acc, std::log(p.min_accuracy / 100.0) - 1e-12, kInf);
  }
}

// T[o][v][k]: the key-share columns per tier (k < K-1), -1 when absent.
using TierShares = std::vector<std::vector<std::vector<int>>>;

// y[o][v][n] with its link row Σ_n y = r x, and T[o][v][k] with its tier row Σ_{n in k} y = r T.
TierShares AddRates(const Problem& p, const ColumnMask* mask, Formulation& f) {
  LinearModel& m = f.model;
  const int K = p.K();
  const size_t O = p.ops.size(), N = p.nodes.size();
  f.y.assign(O, {});
  f.link_row.assign(O, {});
  f.tier_row.assign(O, {});
  TierShares T(O);
  for (size_t o = 0; o < O; ++o) {
    const double r = p.ops[o].rate;
    f.y[o].assign(p.ops[o].variants.size(), std::vector<int>(N, -1));
    T[o].assign(p.ops[o].variants.size(), std::vector<int>(static_cast<size_t>(std::max(0, K - 1)), -1));
    f.link_row[o].assign(p.ops[o].variants.size(), -1);
    f.tier_row[o].assign(p.ops[o].variants.size(), std::vector<int>(static_cast<size_t>(std::max(0, K - 1)), -1));
    for (size_t v = 0; v < p.ops[o].variants.size(); ++v) {
      if (f.x[o][v] < 0) continue;
      Expr link;
      link.Add(f.x[o][v], -r);
      std::vector<Expr> tier_sum(static_cast<size_t>(K));
      for (size_t n = 0; n < N; ++n) {
        if (p.Capacity(static_cast<int>(o), static_cast<int>(v), static_cast<int>(n)) <= 0) continue;
        if (mask != nullptr && !(*mask)[o][v][n]) continue;
        int y = m.AddCol(0, kInf, 0, false);  // bounded by the link row; no box: faster simplex
        f.y[o][v][n] = y;
        link.Add(y, 1);
        tier_sum[static_cast<size_t>(p.nodes[n].tier)].Add(y, 1);
      }
      f.link_row[o][v] = static_cast<int>(m.rows.size());
      AddExprRow(m, link, 0, 0);
      for (int k = 0; k + 1 < K; ++k) {
        int t = m.AddCol(0, 1, 0, false);
        T[o][v][static_cast<size_t>(k)] = t;
        Expr e = tier_sum[static_cast<size_t>(k)];
        e.Add(t, -r);
        f.tier_row[o][v][static_cast<size_t>(k)] = static_cast<int>(m.rows.size());
        AddExprRow(m, e, 0, 0);
      }
    }
  }
  return T;
}

// u[n] for every allowed node some rate column may use, with its rent in the objective (a price
// ladder for an aggregated node).
void AddRent(const Problem& p, Formulation& f) {
  LinearModel& m = f.model;
  f.u.assign(p.nodes.size(), -1);
  for (size_t n = 0; n < p.nodes.size(); ++n) {
    if (!p.node_allowed[n]) continue;
    bool useful = false;
    for (size_t o = 0; o < p.ops.size(); ++o)
      for (size_t v = 0; v < p.ops[o].variants.size(); ++v) useful = useful || f.y[o][v][n] >= 0;
    if (!useful) continue;
    const auto& node = p.nodes[n];
    if (node.member_prices.empty()) {
      f.u[n] = m.AddCol(0, static_cast<double>(node.count), node.price, true);
    } else {
      // Price ladder of an aggregated node: u = Σ s_k; minimisation rents the cheapest first.
      f.u[n] = m.AddCol(0, static_cast<double>(node.count), 0, true);
      Expr ladder;
      ladder.Add(f.u[n], 1);
      for (size_t k = 0; k < node.member_prices.size(); ++k)
        ladder.Add(m.AddCol(0, static_cast<double>(node.member_counts[k]), node.member_prices[k], false), -1);
      AddExprRow(m, ladder, 0, 0);
    }
  }
}

// Variable upper bounds, y <= min(r_o, cap) * (instances it may use): valid for integer
// instances (y <= r_o <= r_o * u once u >= 1, and y <= cap * u), and much tighter than the
// aggregate capacity row for an operator whose whole rate is below one instance's capacity:
// the LP must then open a whole instance to serve any of it, not a fraction.
// (Shared nodes only: with exclusive nodes the LP-rounding heuristic rounds w per operator and
// these rows would fight its rounding.)
void AddRateUpperBounds(const Problem& p, size_t n, Formulation& f) {
  for (size_t o = 0; o < p.ops.size() && !p.exclusive; ++o) {
    int opener = f.u[n];
    for (size_t v = 0; v < p.ops[o].variants.size(); ++v) {
      int y = f.y[o][v][n];
      if (y < 0) continue;
      double per_instance = p.Capacity(static_cast<int>(o), static_cast<int>(v), static_cast<int>(n));
      if (!(p.ops[o].rate < per_instance * (1 - 1e-9))) continue;  // implied by the capacity row
      Expr vub;
      vub.Add(y, 1);
      vub.Add(opener, -p.ops[o].rate);
      AddExprRow(f.model, vub, -kInf, 0);
    }
  }
}

// Capacity per rented node: shared, Σ y / cap <= u; exclusive, Σ_v y / cap <= w[o][n] per
// operator and Σ_o w <= u.
void AddCapacity(const Problem& p, Formulation& f) {
  LinearModel& m = f.model;
  const size_t O = p.ops.size(), N = p.nodes.size();
  if (p.exclusive) f.w.assign(O, std::vector<int>(N, -1));
  f.cap_row.assign(N, -1);
  f.dedicated_row.assign(N, -1);
  if (p.exclusive) f.op_cap_row.assign(O, std::vector<int>(N, -1));
  for (size_t n = 0; n < N; ++n) {
    if (f.u[n] < 0) continue;
    Expr cap;
    Expr dedicated;
    for (size_t o = 0; o < O; ++o) {
      Expr op_cap;
      for (size_t v = 0; v < p.ops[o].variants.size(); ++v) {
        int y = f.y[o][v][n];
        if (y < 0) continue;
        double per_item = 1.0 / p.Capacity(static_cast<int>(o), static_cast<int>(v), static_cast<int>(n));
        (p.exclusive ? op_cap : cap).Add(y, per_item);
      }
      if (p.exclusive && !op_cap.terms.empty()) {
        int w = m.AddCol(0, static_cast<double>(p.nodes[n].count), 0, true);
        f.w[o][n] = w;
        op_cap.Add(w, -1);
        f.op_cap_row[o][n] = static_cast<int>(m.rows.size());
        AddExprRow(m, op_cap, -kInf, 0);
        dedicated.Add(w, 1);
      }
    }
    AddRateUpperBounds(p, n, f);
    if (p.exclusive) {
      dedicated.Add(f.u[n], -1);
      f.dedicated_row[n] = static_cast<int>(m.rows.size());
      AddExprRow(m, dedicated, -kInf, 0);
    } else {
      cap.Add(f.u[n], -1);
      f.cap_row[n] = static_cast<int>(m.rows.size());
      AddExprRow(m, cap, -kInf, 0);
    }
  }
}

// Traffic over each tier boundary b (K-1 of them): the expressions summing the KiB/s crossing it
// upward and downward, for the bandwidth rows.
struct BoundaryTraffic {
  std::vector<Expr> up, down;
};

// The cumulative key share of operator o up to tier b: F_o(b) = Σ_{k<=b} Σ_v T[o][v][k] (one
// variant only when only_variant >= 0).
Expr CumulativeShare(const Problem& p, const TierShares& T, size_t o, int b, int only_variant) {
  Expr e;
  for (size_t v = 0; v < p.ops[o].variants.size(); ++v) {
    if (only_variant >= 0 && static_cast<int>(v) != only_variant) continue;
    for (int k = 0; k <= b; ++k) e.Add(T[o][v][static_cast<size_t>(k)], 1);
  }
  return e;
}

// A source edge at boundary b: its items cross upward with share 1 - F_o(b) (source at or below
// b) or downward with share F_o(b); both are affine in the T columns, so they go straight into the
// objective and the boundary traffic.
void AddSourceEdgeTraffic(const Problem& p, const PEdge& e, int b, const Expr& Fo, Formulation& f,
                          BoundaryTraffic& bw) {
  LinearModel& m = f.model;
  const size_t bi = static_cast<size_t>(b);
  const auto& s = p.sources[static_cast<size_t>(e.from)];
  double kibps = e.rate * s.kib;
  if (b >= s.tier) {  // up share = 1 - F_o(b)
    Expr share = Fo;
    for (auto& [c, v] : share.terms) v = -v;
    share.constant = 1;
    double unit = kibps * kKiBpsToGiBph * p.cost_up[bi];
    for (const auto& [c, v] : share.terms) m.obj[static_cast<size_t>(c)] += unit * v;
    m.obj_offset += unit;
    for (const auto& [c, v] : share.terms) bw.up[bi].Add(c, kibps * v);
    bw.up[bi].constant += kibps;
  } else {  // down share = F_o(b)
    if (p.forbid_downward) AddExprRow(m, Fo, 0, 0);
    double unit = kibps * kKiBpsToGiBph * p.cost_down[bi];
    for (const auto& [c, v] : Fo.terms) {
      m.obj[static_cast<size_t>(c)] += unit * v;
      bw.down[bi].Add(c, kibps * v);
    }
  }
}

// An operator edge (u -> o) at boundary b: one up and one down column per modelled variant of u
// (one for all when u's output size does not depend on its variant), bounded below by F_u - F_o.
void AddOperatorEdgeTraffic(const Problem& p, const TierShares& T, const PEdge& e, int b, const Expr& Fo,
                            Formulation& f, BoundaryTraffic& bw) {
  LinearModel& m = f.model;
  const size_t bi = static_cast<size_t>(b);
  bool need_up = p.cost_up[bi] > 0 || std::isfinite(p.cap_up_kibps[bi]);
  bool need_down = p.cost_down[bi] > 0 || std::isfinite(p.cap_down_kibps[bi]) || p.forbid_downward;
  const size_t from = static_cast<size_t>(e.from);
  const auto& vars = p.ops[from].variants;
  bool uniform = true;
  for (size_t v = 0; v < vars.size(); ++v)
    if (f.x[from][v] >= 0 && vars[v].out_kib != vars[0].out_kib) uniform = false;
  std::vector<int> variants_to_model;
  if (uniform)
    variants_to_model.push_back(-1);
  else
    for (size_t v = 0; v < vars.size(); ++v)
      if (f.x[from][v] >= 0) variants_to_model.push_back(static_cast<int>(v));
  for (int vu : variants_to_model) {
    double kib = vars[static_cast<size_t>(vu < 0 ? 0 : vu)].out_kib;
    double kibps = e.rate * kib;
    if (kibps <= 0) continue;
    Expr Fu = CumulativeShare(p, T, from, b, vu);
    for (int dir = 0; dir < 2; ++dir) {
      if (dir == 0 && !need_up) continue;
      if (dir == 1 && !need_down) continue;
      double unit = kibps * kKiBpsToGiBph * (dir == 0 ? p.cost_up[bi] : p.cost_down[bi]);
      int t = m.AddCol(0, dir == 1 && p.forbid_downward ? 0 : 1, unit, false);
      // up:   t >= Fu - Fo - (1 - x)   ->  t - Fu + Fo - x >= -1   (x term only per variant)
      // down: t >= Fo - Fu - (1 - x)
      Expr row;
      row.Add(t, 1);
      double sign = dir == 0 ? -1.0 : 1.0;
      for (const auto& [c, v] : Fu.terms) row.Add(c, sign * v);
      for (const auto& [c, v] : Fo.terms) row.Add(c, -sign * v);
      if (vu >= 0) {
        row.Add(f.x[from][static_cast<size_t>(vu)], -1);
        AddExprRow(m, row, -1, kInf);
      } else {
        AddExprRow(m, row, 0, kInf);
      }
      (dir == 0 ? bw.up : bw.down)[bi].Add(t, kibps);
    }
  }
}

// The way back of one result at boundary b: the sink (or another ingress tier's io worker) holds all
// keys on its tier r.tier, so F_sink(b) is 1 at or above that tier and 0 below it, and the answers of variant v of the
// terminal operator cross b upward with share F_v(b) (b below the sink) or downward with share x_v - F_v(b) (b at or
// above it: the keys of v served above b). Both are affine in x and T, like a source edge's, so they
// go straight into the objective and the boundary traffic, per variant (sizes may differ). Not
// subject to forbid_downward (see PResult).
void AddResultTraffic(const Problem& p, const TierShares& T, const PResult& r, int b, Formulation& f,
                      BoundaryTraffic& bw) {
  LinearModel& m = f.model;
  const size_t bi = static_cast<size_t>(b), o = static_cast<size_t>(r.op);
  const bool up = b < r.tier;
  for (size_t v = 0; v < p.ops[o].variants.size(); ++v) {
    if (f.x[o][v] < 0) continue;
    double kibps = r.rate * p.ops[o].variants[v].out_kib;
    if (kibps <= 0) continue;
    Expr share = CumulativeShare(p, T, o, b, static_cast<int>(v));
    if (!up) {
      for (auto& [c, coef] : share.terms) coef = -coef;
      share.Add(f.x[o][v], 1);
    }
    double unit = kibps * kKiBpsToGiBph * (up ? p.cost_up[bi] : p.cost_down[bi]);
    for (const auto& [c, coef] : share.terms) {
      m.obj[static_cast<size_t>(c)] += unit * coef;
      (up ? bw.up : bw.down)[bi].Add(c, kibps * coef);
    }
  }
}

// Traffic per edge, result and boundary, then a bandwidth row per capped link.
void AddTraffic(const Problem& p, const TierShares& T, Formulation& f) {
  const int K = p.K();
  BoundaryTraffic bw;
  bw.up.resize(static_cast<size_t>(std::max(0, K - 1)));
  bw.down.resize(static_cast<size_t>(std::max(0, K - 1)));
  for (const auto& e : p.edges) {
    for (int b = 0; b + 1 < K; ++b) {
      Expr Fo = CumulativeShare(p, T, static_cast<size_t>(e.to), b, -1);
      if (e.from_source)
        AddSourceEdgeTraffic(p, e, b, Fo, f, bw);
      else
        AddOperatorEdgeTraffic(p, T, e, b, Fo, f, bw);
    }
  }
  for (const auto& r : p.results)
    for (int b = 0; b + 1 < K; ++b) AddResultTraffic(p, T, r, b, f, bw);
  for (int b = 0; b + 1 < K; ++b) {
    const size_t bi = static_cast<size_t>(b);
    if (std::isfinite(p.cap_up_kibps[bi])) {
      f.bandwidth_rows.push_back(static_cast<int>(f.model.rows.size()));
      f.bandwidth_names.push_back(p.tiers[bi] + " -> " + p.tiers[bi + 1]);
      AddExprRow(f.model, bw.up[bi], -kInf, p.cap_up_kibps[bi]);
    }
    if (std::isfinite(p.cap_down_kibps[bi])) {
      f.bandwidth_rows.push_back(static_cast<int>(f.model.rows.size()));
      f.bandwidth_names.push_back(p.tiers[bi + 1] + " -> " + p.tiers[bi]);
      AddExprRow(f.model, bw.down[bi], -kInf, p.cap_down_kibps[bi]);
    }
  }
}

}  // namespace

// Columns and rows are added in a fixed order (the solvers' results depend on it): variant choice,
// accuracy, rates and tier shares, rent, capacity, traffic.
Formulation Formulate(const Problem& p, const ColumnMask* mask) {
  Formulation f;
  AddVariantChoice(p, AllowedVariants(p), f);
  AddAccuracy(p, f);
  TierShares T = AddRates(p, mask, f);
  AddRent(p, f);
  AddCapacity(p, f);
  AddTraffic(p, T, f);
  return f;
}

Solution Decode(const Problem& p, const Formulation& f, const std::vector<double>& values, double objective) {
  Solution s = EmptySolution(p);
  auto val = [&](int c) { return c >= 0 ? values[static_cast<size_t>(c)] : 0.0; };
  for (size_t o = 0; o < p.ops.size(); ++o) {
    int best = 0;
    double best_x = -1;
    for (size_t v = 0; v < f.x[o].size(); ++v)
      if (f.x[o][v] >= 0 && val(f.x[o][v]) > best_x) {
        best_x = val(f.x[o][v]);
        best = static_cast<int>(v);
      }
    s.variant[o] = best;
    for (size_t n = 0; n < p.nodes.size(); ++n) {
      double r = std::max(0.0, val(f.y[o][static_cast<size_t>(best)][n]));
      s.rate[o][n] = r < 1e-9 ? 0.0 : r;
    }
  }
  for (size_t n = 0; n < p.nodes.size(); ++n) {
    s.instances[n] = static_cast<int64_t>(std::llround(val(f.u[n])));
    s.compute_cost += static_cast<double>(s.instances[n]) * p.nodes[n].price;
  }
  if (!f.w.empty()) {
    s.dedicated.assign(p.ops.size(), std::vector<int64_t>(p.nodes.size(), 0));
    for (size_t o = 0; o < p.ops.size(); ++o)
      for (size_t n = 0; n < p.nodes.size(); ++n)
        s.dedicated[o][n] = static_cast<int64_t>(std::llround(val(f.w[o][n])));
  }
  s.cost = objective;
  return s;
}

}  // namespace jb::planner
