#include "cli/profile_observed.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>

#include "api/manifest.h"
#include "cli/profile.h"
#include "cli/remote.h"

namespace fs = std::filesystem;

namespace jb {
namespace profile {
namespace {

double Round3(double v) { return std::round(std::max(v, limits::kMinLatencyMs) * 1e3) / 1e3; }

// Spec and name only: what a user applies.
ModelProfile AsDocument(const ModelProfile& mp) {
  ModelProfile out;
  out.metadata.name = mp.metadata.name;
  out.metadata.labels = mp.metadata.labels;
  out.spec = mp.spec;
  return out;
}

}  // namespace

ObservedProfiles FromObserved(const std::vector<ModelProfile>& stored, const std::vector<ModelProfile>& existing,
                              int64_t min_items) {
  ObservedProfiles res;
  std::vector<ModelProfile> current = existing;
  std::string lines, latest;
  for (const auto& mp : stored) {
    // One pass per hardware class (UpdateProfiles writes one class at a time).
    std::map<std::string, ProfileResult> by_hw;
    for (const auto& e : mp.status.observed) {
      if (e.items < min_items) continue;
      VariantResult v;
      v.profile = mp.metadata.name;
      v.variant = e.variant;
      v.latency.p50 = Round3(e.p50_ms);
      v.latency.p75 = Round3(std::max(e.p75_ms, e.p50_ms));
      v.latency.p90 = Round3(std::max({e.p90_ms, e.p75_ms, e.p50_ms}));
      v.output_kib = e.output_size_kib;
      v.items = static_cast<size_t>(e.items);
      by_hw[e.hardware].variants.push_back(v);
      lines += "#   " + mp.metadata.name + "/" + e.variant + " on " + e.hardware + ": " + std::to_string(e.items) +
               " items, observed " + e.time + "\n";
      latest = std::max(latest, e.time);
    }
    if (by_hw.empty()) continue;
    ModelProfile doc = AsDocument(mp);
    for (const auto& [hw, result] : by_hw) {
      auto updated = UpdateProfiles({doc}, current, result, hw);
      if (updated.empty()) continue;
      doc = AsDocument(updated[0]);
      current.erase(std::remove_if(current.begin(), current.end(),
                                   [&](const ModelProfile& c) { return c.metadata.name == doc.metadata.name; }),
                    current.end());
      current.push_back(doc);
    }
    res.profiles.push_back(doc);
  }
  res.header =
      "# Observed by jellybean's workers (`jbctl profile --from-observed`, the ModelProfile status: "
      "service time of the runtime, queueing excluded; output size), latest observation " +
      latest + ":\n" + lines + "# Regenerate rather than edit; other hardware classes merge in.\n";
  return res;
}

}  // namespace profile

bool WantsFromObserved(const std::vector<std::string>& args) {
  return std::find(args.begin(), args.end(), "--from-observed") != args.end();
}

namespace {

const char* kUsage = R"(Usage: jbctl profile --from-observed WORKFLOW|PROFILE -o DIR [--min-items N] [--server URL ...]

Writes what jellybeand's workers observed of each variant (the ModelProfiles' status: p50/p75/p90
service time and output size per hardware class) as ModelProfile documents into
DIR/modelprofile-<name>.yaml, the shape `jbctl profile` writes. A Workflow's name takes every
ModelProfile it uses. Other hardware classes (of DIR's files, else of the stored spec) are kept.
  --min-items N   leave out figures resting on fewer items (default 1)
)";

// GET kind/name as an object; nullopt (and no message) for 404.
StatusOr<std::optional<Object>> Fetch(const cli::Remote& r, const std::string& plural, const std::string& name) {
  auto resp = HttpCall(r.http, "GET", cli::kApiPath + plural + "/" + name);
  if (!resp.ok()) return resp.status();
  if (resp->status == 404) return std::optional<Object>();
  if (resp->status != 200) return Status::Unavailable(cli::ErrorOf(*resp));
  auto obj = cli::DecodeResponse(*resp);
  if (!obj.ok()) return obj.status();
  return std::optional<Object>(*obj);
}

}  // namespace

int ProfileFromObservedCommand(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  if (std::find(args.begin(), args.end(), "-h") != args.end() ||
      std::find(args.begin(), args.end(), "--help") != args.end()) {
    out << kUsage;
    return 0;
  }
  auto r = cli::Connect(args);
  if (!r.ok()) {
    err << "jbctl profile: " << r.status().message() << "\n";
    return 1;
  }
  std::string name, out_dir;
  int64_t min_items = 1;
  const auto& rest = r->rest;
  for (size_t i = 0; i < rest.size(); ++i) {
    const bool has = i + 1 < rest.size();
    if (rest[i] == "--from-observed" && has) {
      name = rest[++i];
    } else if ((rest[i] == "-o" || rest[i] == "--output-dir") && has) {
      out_dir = rest[++i];
    } else if (rest[i] == "--min-items" && has) {
      const std::string& n = rest[++i];
      if (n.empty() || n.size() > 15 || n.find_first_not_of("0123456789") != std::string::npos) {
        err << "jbctl profile: --min-items expects a whole number\n";
        return 1;
      }
      min_items = std::stoll(n);
    } else {
      err << "jbctl profile: unexpected argument \"" << rest[i] << "\"\n" << kUsage;
      return 1;
    }
  }
  if (name.empty() || out_dir.empty()) {
    err << "jbctl profile: expected --from-observed WORKFLOW|PROFILE and -o DIR\n" << kUsage;
    return 1;
  }
  std::vector<std::string> names;
  auto mp = Fetch(*r, "modelprofiles", name);
  if (!mp.ok()) {
    err << "jbctl profile: ModelProfile " << name << ": " << mp.status().message() << "\n";
    return 1;
  }
  if (*mp) {
    names.push_back(name);
  } else {
    auto wf = Fetch(*r, "workflows", name);
    if (!wf.ok() || !*wf) {
      err << "jbctl profile: no ModelProfile or Workflow \"" << name << "\""
          << (wf.ok() ? "" : ": " + wf.status().message()) << "\n";
      return 1;
    }
    for (const auto& op : std::get<Workflow>(**wf).spec.operators)
      if (std::find(names.begin(), names.end(), op.profile) == names.end()) names.push_back(op.profile);
  }
  std::vector<ModelProfile> stored;
  for (const auto& n : names) {
    auto got = n == name && *mp ? StatusOr<std::optional<Object>>(*mp) : Fetch(*r, "modelprofiles", n);
    if (!got.ok() || !*got || !std::holds_alternative<ModelProfile>(**got)) {
      err << "jbctl profile: ModelProfile " << n << ": " << (got.ok() ? "not found" : got.status().message()) << "\n";
      return 1;
    }
    stored.push_back(std::get<ModelProfile>(**got));
  }
  std::vector<ModelProfile> existing;
  if (fs::is_directory(out_dir))
    for (auto& d : LoadPath(out_dir))
      if (d.object)
        if (auto* m = std::get_if<ModelProfile>(&*d.object)) existing.push_back(*m);
  auto res = profile::FromObserved(stored, existing, min_items);
  if (res.profiles.empty()) {
    err << "jbctl profile: nothing observed yet for " << name << " (no status entry with " << min_items
        << " or more items)\n";
    return 1;
  }
  std::error_code ec;
  fs::create_directories(out_dir, ec);
  for (const auto& p : res.profiles) {
    std::ofstream f(fs::path(out_dir) / ("modelprofile-" + p.metadata.name + ".yaml"), std::ios::trunc);
    f << profile::ProfilesYaml({p}, res.header);
    if (!f) {
      err << "jbctl profile: cannot write to " << out_dir << "\n";
      return 1;
    }
  }
  out << res.header << "wrote " << res.profiles.size() << " ModelProfile file(s) to " << out_dir << "\n";
  return 0;
}

}  // namespace jb
