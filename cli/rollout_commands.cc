// jbctl rollout history|undo: the plans a workflow adopted, and going back to one.

#include "api/manifest.h"
#include "cli/cli_util.h"
#include "cli/remote.h"

namespace jb::cli {

// jbctl rollout history|undo workflow NAME [--to-epoch N]
int Rollout(const Remote& r, const RolloutOptions& o, std::ostream& out, std::ostream& err) {
  std::string plural, name;
  if (!ResolveTarget(o.positionals, &plural, &name, "jbctl rollout " + o.action, err)) return 1;
  if (plural != "workflows") {
    err << "jbctl rollout " << o.action << ": only workflows roll out\n";
    return 1;
  }
  if (o.action == "undo") {
    std::string body = o.to_epoch ? "{\"epoch\": " + std::to_string(*o.to_epoch) + "}" : "";
    auto resp = HttpCall(r.http, "POST", kApiPath + "workflows/" + name + "/rollback", body);
    if (!resp.ok() || resp->status >= 300) {
      err << "jbctl rollout undo: " << (resp.ok() ? ErrorOf(*resp) : resp.status().message()) << "\n";
      return 1;
    }
    auto docs = ParseYamlStream(resp->body);
    const Value* msg = docs.empty() ? nullptr : docs[0].root.Find("message");
    out << (msg && msg->is_string() ? msg->as_string() : "rollback accepted") << "\n";
    return 0;
  }
  auto fetched = FetchWorkflow(r, name, "jbctl rollout history", err);
  if (!fetched) return 1;
  const Workflow& wf = *fetched;
  std::vector<std::vector<std::string>> rows = {
      {"EPOCH", "TIME", "TRIGGER", "OLD $/h", "NEW $/h", "ACCURACY", "MOVED", "SERVING s", "REASON"}};
  for (const auto& h : wf.status.history) {
    std::string acc = h.old_accuracy > 0 ? FormatFixed(h.old_accuracy, 2) + "->" + FormatFixed(h.new_accuracy, 2)
                                         : FormatFixed(h.new_accuracy, 2);
    rows.push_back({std::to_string(h.epoch) + (wf.status.plan_epoch && *wf.status.plan_epoch == h.epoch ? "*" : ""),
                    h.time, h.trigger, h.old_cost > 0 ? FormatFixed(h.old_cost, 4) : "-", FormatFixed(h.new_cost, 4),
                    acc, std::to_string(h.workers_moved), h.serving_s ? FormatFixed(*h.serving_s, 3) : "-", h.reason});
  }
  if (rows.size() == 1)
    out << "no plan has been adopted yet\n";
  else
    PrintTable(out, rows, 3);
  return 0;
}

}  // namespace jb::cli
