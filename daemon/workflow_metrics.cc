#include "daemon/workflow_metrics.h"

#include <functional>
#include <optional>
#include <string>

namespace jb {

void WriteWorkflowAccuracyMetrics(const std::vector<Object>& objects, std::ostream& m) {
  std::vector<const Workflow*> wfs;
  for (const auto& o : objects)
    if (const auto* wf = std::get_if<Workflow>(&o)) wfs.push_back(wf);
  // One family: HELP and TYPE, then what `samples` writes for each Workflow (nothing when it has no figure).
  auto family = [&](const std::string& name, const char* type, const std::string& help,
                    const std::function<void(const Workflow&, const std::string& labels)>& samples) {
    m << "# HELP " << name << " " << help << "\n# TYPE " << name << " " << type << "\n";
    for (const auto* wf : wfs) samples(*wf, "workflow=\"" + wf->metadata.name + "\"");
  };
  auto observed = [](const Workflow& wf) -> const ObservedAccuracy* {
    // None while the sink's worker is cut off from the daemon (the figure is Unknown, not current).
    if (!wf.status.observed || !wf.status.observed->accuracy ||
        FindUnknownFigure(*wf.status.observed, "accuracy") != nullptr)
      return nullptr;
    return &*wf.status.observed->accuracy;
  };
  const std::string acc = "jellybean_workflow_observed_accuracy_percent";
  family(acc, "gauge", "Accuracy of the scored (labelled) answers in the sink's window, percent.",
         [&](const Workflow& wf, const std::string& l) {
           if (const auto* a = observed(wf)) m << acc << "{" << l << "} " << a->accuracy << "\n";
         });
  const std::string interval = "jellybean_workflow_observed_accuracy_interval_percent";
  family(interval, "gauge", "95% Wilson interval of the observed accuracy, percent (bound low or high).",
         [&](const Workflow& wf, const std::string& l) {
           if (const auto* a = observed(wf)) {
             m << interval << "{" << l << ",bound=\"low\"} " << a->low << "\n";
             m << interval << "{" << l << ",bound=\"high\"} " << a->high << "\n";
           }
         });
  const std::string scored = "jellybean_workflow_observed_accuracy_scored";
  family(scored, "gauge", "Scored answers in the window the observed accuracy rests on.",
         [&](const Workflow& wf, const std::string& l) {
           if (const auto* a = observed(wf)) m << scored << "{" << l << "} " << a->count << "\n";
         });
  const std::string total = "jellybean_workflow_scored_answers_total";
  family(total, "counter", "Answers scored against their labels by the running sinks.",
         [&](const Workflow& wf, const std::string& l) {
           if (const auto* a = observed(wf)) m << total << "{" << l << "} " << a->total << "\n";
         });
  const std::string planned = "jellybean_workflow_planned_accuracy_percent";
  family(planned, "gauge", "Profiled accuracy of the current plan, percent.",
         [&](const Workflow& wf, const std::string& l) {
           if (wf.status.plan) m << planned << "{" << l << "} " << wf.status.plan->accuracy << "\n";
         });
  const std::string floor = "jellybean_workflow_accuracy_floor_percent";
  family(floor, "gauge", "The accuracy floor of the SLO (slo.minAccuracy), percent.",
         [&](const Workflow& wf, const std::string& l) {
           m << floor << "{" << l << "} " << wf.spec.slo.min_accuracy << "\n";
         });
  const std::string raised = "jellybean_workflow_raised_accuracy_floor_percent";
  family(raised, "gauge", "The floor the current plan is planned at after accuracy drift raised it, percent.",
         [&](const Workflow& wf, const std::string& l) {
           if (wf.status.accuracy_floor) m << raised << "{" << l << "} " << *wf.status.accuracy_floor << "\n";
         });
}

}  // namespace jb
