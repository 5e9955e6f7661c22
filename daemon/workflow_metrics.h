// The daemon's per-Workflow accuracy gauges on /metrics (Prometheus text, version 0.0.4), in the
// style of the other jellybean_* families: HELP and TYPE once per family, one sample per Workflow
// (label workflow="NAME") where the figure exists.
//   jellybean_workflow_observed_accuracy_percent            window accuracy at the sink (labelled answers)
//   jellybean_workflow_observed_accuracy_interval_percent   its 95% Wilson interval, bound="low"|"high"
//   jellybean_workflow_observed_accuracy_scored             scored answers in the window (the count it rests on)
//   jellybean_workflow_scored_answers_total                 scored answers ever, by the running sinks (counter)
//   jellybean_workflow_planned_accuracy_percent             the current plan's profiled accuracy
//   jellybean_workflow_accuracy_floor_percent               slo.minAccuracy
//   jellybean_workflow_raised_accuracy_floor_percent        status.accuracyFloor, while accuracy drift raised it
// The observed families have samples only while status.observed.accuracy exists (answers carry
// labels and some are scored) and is observable (not listed in status.observed.unknown: the sink's
// worker is cut off from the daemon; jellybean_workflow_observed_unknown_age_seconds has its age).
// Thread-safety: a pure function of its arguments.
#pragma once

#include <ostream>
#include <vector>

#include "api/types.h"

namespace jb {

// Appends the families above for the Workflows among `objects` (other kinds are skipped).
void WriteWorkflowAccuracyMetrics(const std::vector<Object>& objects, std::ostream& m);

}  // namespace jb
