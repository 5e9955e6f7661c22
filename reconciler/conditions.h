// Condition types, statuses and reasons of a Workflow's status (api/types.h: Condition), as named
// constants: the reconciler sets them, jbctl and the daemon's health summary read them, events
// carry the reasons. The strings are part of the API (stored, shown, matched by users' tooling);
// renaming one is an API change.
// Thread-safety: constants only.
#pragma once

namespace jb::cond {

// Types (the CRD's enum).
inline constexpr const char* kPlanned = "Planned";
inline constexpr const char* kDeployed = "Deployed";
inline constexpr const char* kReady = "Ready";
inline constexpr const char* kSLOMet = "SLOMet";
inline constexpr const char* kDegraded = "Degraded";

// Statuses.
inline constexpr const char* kTrue = "True";
inline constexpr const char* kFalse = "False";
inline constexpr const char* kUnknown = "Unknown";

// Reasons of Planned (False unless said otherwise).
inline constexpr const char* kSolved = "Solved";                    // True: a new plan was adopted
inline constexpr const char* kKept = "Kept";                        // True: the running plan was kept (damping)
inline constexpr const char* kPlanningTimeout = "PlanningTimeout";  // no plan within the planning budget
inline constexpr const char* kInfeasible = "Infeasible";            // no plan, not even a degraded one
inline constexpr const char* kSolverError = "SolverError";
inline constexpr const char* kInvalid = "Invalid";                    // the inputs do not validate together
inline constexpr const char* kMissingReference = "MissingReference";  // a referenced object does not exist
inline constexpr const char* kReconcileError = "ReconcileError";      // an unexpected error (retried)

// Reasons of Deployed, Ready and SLOMet.
inline constexpr const char* kNotPlanned = "NotPlanned";
inline constexpr const char* kApplied = "Applied";
inline constexpr const char* kRollingOut = "RollingOut";
inline constexpr const char* kDriverError = "DriverError";
inline constexpr const char* kDriverUnavailable = "DriverUnavailable";  // no driver of this daemon serves a tier
inline constexpr const char* kNotDeployed = "NotDeployed";
inline constexpr const char* kWorkersReady = "WorkersReady";
inline constexpr const char* kWorkersNotReady = "WorkersNotReady";
inline constexpr const char* kMeasuring = "Measuring";
inline constexpr const char* kObserved = "Observed";
inline constexpr const char* kThroughputBelowTarget = "ThroughputBelowTarget";
inline constexpr const char* kLatencyAboveTarget = "LatencyAboveTarget";
inline constexpr const char* kNoObservations = "NoObservations";
inline constexpr const char* kDegradedPlan = "DegradedPlan";

// Reasons of Degraded. AccuracyBelowFloor is also SLOMet=False's reason when the observed accuracy's
// 95% interval lies wholly below the floor (reconciler/observed_accuracy.h).
inline constexpr const char* kPlanMeetsSLO = "PlanMeetsSLO";                              // False
inline constexpr const char* kAccuracyBelowFloor = "AccuracyBelowFloor";                  // True
inline constexpr const char* kRateBelowTarget = "RateBelowTarget";                        // True
inline constexpr const char* kRateAndAccuracyBelowTarget = "RateAndAccuracyBelowTarget";  // True

}  // namespace jb::cond
