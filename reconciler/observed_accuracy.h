// Observed accuracy of a Workflow: the sinks' counts of scored (labelled) answers summed into
// ObservedStatus.accuracy, with the 95% Wilson interval of the window, and the SLO rule on it
// (ingress/accuracy.h, EvaluateAccuracySlo: missed only when the interval lies wholly below the
// floor). Figures are in percent, as slo.minAccuracy and the plan's accuracy are.
// Thread-safety: pure functions.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "api/types.h"
#include "drivers/driver.h"
#include "ingress/accuracy.h"

namespace jb {

// Sums the sink instances' windowScored/windowCorrect (the figure and its interval) and scored (the
// total) over `workers`. nullopt when no sink reports windowScored > 0 (nothing is labelled, or
// nothing scored yet): accuracy then takes no part in the status. A report is not trusted blindly:
// negative counts count as 0 and windowCorrect is capped at windowScored. `planned` is the plan's
// profiled accuracy and `floor` slo.minAccuracy, both copied into the result.
std::optional<ObservedAccuracy> SummarizeAccuracy(const std::vector<WorkerState>& workers, double planned,
                                                  double floor);

// The SLO verdict on `a` against a.floor (EvaluateAccuracySlo's met and reason), with a message
// that names the planned accuracy too: "observed accuracy 52.0% (95% interval 45.1-58.8%, n=200)
// is below the floor 60.0% (planned 63.9%)" (or "meets the floor ..." / "is not distinguishable
// from the floor ... yet"). A count of 0 gives met = nullopt and no message.
ingress::AccuracySloVerdict AccuracySlo(const ObservedAccuracy& a);

// "63.2% (95% 57.1-68.9%, n=288)": the figure, its interval and the count, as jbctl and events show it.
std::string FormatObservedAccuracy(const ObservedAccuracy& a);

}  // namespace jb
