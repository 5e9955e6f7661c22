#include "reconciler/observed_accuracy.h"

#include <algorithm>
#include <cmath>

#include "base/format.h"

namespace jb {

std::optional<ObservedAccuracy> SummarizeAccuracy(const std::vector<WorkerState>& workers, double planned,
                                                  double floor) {
  uint64_t count = 0, correct = 0, total = 0;
  for (const auto& w : workers) {
    if (!w.metrics) continue;
    for (const auto& in : w.metrics->instances) {
      if (in.kind != "sink") continue;
      const auto scored = static_cast<uint64_t>(std::max<int64_t>(0, in.window_scored));
      count += scored;
      correct += std::min(scored, static_cast<uint64_t>(std::max<int64_t>(0, in.window_correct)));
      total += static_cast<uint64_t>(std::max<int64_t>(0, in.scored));
    }
  }
  if (count == 0) return std::nullopt;
  const ingress::Interval ci = ingress::WilsonInterval(correct, count);
  ObservedAccuracy a;
  a.accuracy = 100 * static_cast<double>(correct) / static_cast<double>(count);
  a.low = 100 * ci.lo;
  a.high = 100 * ci.hi;
  a.count = static_cast<int64_t>(count);
  a.total = static_cast<int64_t>(std::max(total, count));  // a sink's window never holds more than it scored
  a.planned = planned;
  a.floor = floor;
  return a;
}

ingress::AccuracySloVerdict AccuracySlo(const ObservedAccuracy& a) {
  ingress::AccuracySnapshot s;
  s.count = static_cast<uint64_t>(std::max<int64_t>(0, a.count));
  s.total = static_cast<uint64_t>(std::max<int64_t>(0, a.total));
  s.accuracy = a.accuracy / 100;
  s.correct = static_cast<uint64_t>(std::llround(s.accuracy * static_cast<double>(s.count)));
  s.wilson95 = ingress::Interval{a.low / 100, a.high / 100};
  ingress::AccuracySloVerdict v = ingress::EvaluateAccuracySlo(s, a.floor);
  if (!v.met) return v;
  // The verdict is the ingress rule's; the words are the status's (figures as jbctl shows them).
  const std::string floor = FormatFixed(a.floor, 1) + "%";
  v.message = "observed accuracy " + FormatFixed(a.accuracy, 1) + "% (95% interval " + FormatFixed(a.low, 1) + "-" +
              FormatFixed(a.high, 1) + "%, n=" + std::to_string(a.count) + ") " +
              (!*v.met                   ? "is below the floor " + floor
               : a.low + 1e-9 >= a.floor ? "meets the floor " + floor
                                         : "is not distinguishable from the floor " + floor + " yet") +
              " (planned " + FormatFixed(a.planned, 1) + "%)";
  return v;
}

std::string FormatObservedAccuracy(const ObservedAccuracy& a) {
  return FormatFixed(a.accuracy, 1) + "% (95% " + FormatFixed(a.low, 1) + "-" + FormatFixed(a.high, 1) +
         "%, n=" + std::to_string(a.count) + ")";
}

}  // namespace jb
