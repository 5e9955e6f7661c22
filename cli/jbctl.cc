// jbctl: the command-line client (kubectl conventions: results on stdout, errors on stderr,
// exit 0 on success, 1 on error).
#include <signal.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

#include "api/crd.h"
#include "api/manifest.h"
#include "cli/commands.h"
#include "cli/import_prototype.h"
#include "cli/profile_observed.h"

namespace fs = std::filesystem;

namespace jb {
namespace {

const char* kUsage = R"(jbctl: JellyBean control tool

Usage:
  jbctl validate -f FILE|DIR [-f ...]      check manifests; prints "ok" per document or the errors
  jbctl plan -f FILE|DIR [options]         plan a workflow offline (see jbctl plan --help)
  jbctl import jellybean-prototype DIR [-o OUTDIR] [--workflow-name N] [--infrastructure-name N]
                                           convert the JellyBean prototype's optimizer inputs
  jbctl profile -f FILE|DIR --data NAME=INDEX -o DIR [options]
                                           run every variant on this machine over labelled items; write
                                           ModelProfiles and the accuracy table (see jbctl profile --help)
  jbctl profile --from-observed WORKFLOW|PROFILE -o DIR
                                           write what a running jellybeand's workers observed as ModelProfiles
  jbctl crds [-o OUTDIR]                   print (or write) the CustomResourceDefinitions

Against a running jellybeand (connection: --server URL --token-file FILE --ca FILE, or
~/.config/jellybean/config, or --state-dir DIR / $JB_STATE_DIR of a local daemon):
  jbctl apply -f FILE|DIR [--force]        create or update every object in the manifests (--force:
                                           take objects over from the manifest file that owns them)
  jbctl get KIND [NAME] [-o yaml|json|wide|name]
  jbctl describe workflow NAME             conditions, plan table, cost
  jbctl delete KIND NAME | -f FILE|DIR
  jbctl diff -f FILE|DIR                   exit 0 same, 1 differs, >1 error
  jbctl rollout history workflow NAME      adopted plans: trigger, cost and accuracy change, workers moved,
                                           seconds from the trigger to the new plan serving
  jbctl rollout undo workflow NAME [--to-epoch N]
                                           re-adopt the previous plan (or epoch N's), make-before-break

Exit status: 0 on success, 1 on error (validate: 1 when any document is invalid).
)";

int Validate(const std::vector<std::string>& args) {
  std::vector<std::string> paths;
  for (size_t i = 0; i < args.size(); ++i) {
    if ((args[i] == "-f" || args[i] == "--filename") && i + 1 < args.size())
      paths.push_back(args[++i]);
    else {
      std::cerr << "jbctl validate: unexpected argument \"" << args[i] << "\"; usage: jbctl validate -f FILE|DIR\n";
      return 1;
    }
  }
  if (paths.empty()) {
    std::cerr << "jbctl validate: expected -f FILE|DIR\n";
    return 1;
  }
  std::vector<Document> docs;
  for (const auto& p : paths) {
    if (!fs::exists(p)) {
      std::cerr << "jbctl validate: " << p << ": no such file or directory\n";
      return 1;
    }
    for (auto& d : LoadPath(p)) docs.push_back(std::move(d));
  }
  if (docs.empty()) {
    std::cerr << "jbctl validate: no manifests found in the given paths\n";
    return 1;
  }
  ValidateSet(&docs);
  bool all_ok = true;
  for (const auto& d : docs) {
    if (d.ok()) std::cout << d.file << ": " << d.Describe() << ": ok\n";
    all_ok = all_ok && d.ok();
  }
  for (const auto& line : FormatDiagnostics(docs)) std::cout << line << "\n";
  return all_ok ? 0 : 1;
}

bool WriteFile(const fs::path& path, const std::string& content) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << content;
  return static_cast<bool>(out);
}

int Import(const std::vector<std::string>& args) {
  if (args.empty() || args[0] != "jellybean-prototype") {
    std::cerr << "jbctl import: expected \"jellybean-prototype DIR\"\n";
    return 1;
  }
  std::string dir, out_dir;
  ImportOptions opts;
  for (size_t i = 1; i < args.size(); ++i) {
    if (args[i] == "-o" && i + 1 < args.size())
      out_dir = args[++i];
    else if (args[i] == "--workflow-name" && i + 1 < args.size())
      opts.workflow_name = args[++i];
    else if (args[i] == "--infrastructure-name" && i + 1 < args.size())
      opts.infrastructure_name = args[++i];
    else if (args[i] == "--percentile" && i + 1 < args.size())
      opts.percentile = args[++i];
    else if (dir.empty() && args[i][0] != '-')
      dir = args[i];
    else {
      std::cerr << "jbctl import: unexpected argument \"" << args[i] << "\"\n";
      return 1;
    }
  }
  if (dir.empty()) {
    std::cerr << "jbctl import jellybean-prototype: expected DIR\n";
    return 1;
  }
  auto res = ImportPrototype(dir, opts);
  if (!res.ok()) {
    std::cerr << "jbctl import: " << res.status().message() << "\n";
    return 1;
  }
  std::string header =
      "# Generated by `jbctl import jellybean-prototype` from the JellyBean prototype's optimizer inputs\n"
      "# (" +
      fs::path(dir).filename().string() + "). Regenerate instead of editing by hand.\n";
  for (const auto& n : res->notes) header += "# Note: " + n + "\n";
  std::string infra = header + ObjectToYaml(res->infrastructure);
  std::string profiles = header;
  for (size_t i = 0; i < res->profiles.size(); ++i) profiles += (i ? "---\n" : "") + ObjectToYaml(res->profiles[i]);
  std::string workflow = header + ObjectToYaml(res->workflow);
  if (out_dir.empty()) {
    std::cout << infra << "---\n" << profiles << "---\n" << workflow;
    return 0;
  }
  std::error_code ec;
  fs::create_directories(out_dir, ec);
  if (!WriteFile(fs::path(out_dir) / "infrastructure.yaml", infra) ||
      !WriteFile(fs::path(out_dir) / "modelprofiles.yaml", profiles) ||
      !WriteFile(fs::path(out_dir) / "workflow.yaml", workflow)) {
    std::cerr << "jbctl import: cannot write to " << out_dir << "\n";
    return 1;
  }
  std::cout << "wrote " << out_dir << "/{infrastructure,modelprofiles,workflow}.yaml\n";
  return 0;
}

int Crds(const std::vector<std::string>& args) {
  std::string out_dir;
  if (args.size() == 2 && args[0] == "-o")
    out_dir = args[1];
  else if (!args.empty()) {
    std::cerr << "jbctl crds: usage: jbctl crds [-o OUTDIR]\n";
    return 1;
  }
  bool first = true;
  for (const auto& kind : Kinds()) {
    auto crd = CrdForKind(kind);
    std::string text =
        "# Generated from the C++ resource types by `jbctl crds`; tests fail if they drift apart.\n" + ToYaml(*crd);
    if (out_dir.empty()) {
      std::cout << (first ? "" : "---\n") << text;
    } else {
      std::string name = kind;
      for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      if (!WriteFile(fs::path(out_dir) / (name + ".yaml"), text)) {
        std::cerr << "jbctl crds: cannot write to " << out_dir << "\n";
        return 1;
      }
    }
    first = false;
  }
  return 0;
}

}  // namespace
}  // namespace jb

int main(int argc, char** argv) {
  // A server that closes while jbctl writes must be an error message, not a silent exit 141.
  signal(SIGPIPE, SIG_IGN);
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.empty() || args[0] == "-h" || args[0] == "--help" || args[0] == "help") {
    std::cout << jb::kUsage;
    return args.empty() ? 1 : 0;
  }
  std::string verb = args[0];
  std::vector<std::string> rest(args.begin() + 1, args.end());
  if (verb == "validate") return jb::Validate(rest);
  if (verb == "import") return jb::Import(rest);
  if (verb == "crds") return jb::Crds(rest);
  if (verb == "profile")
    return jb::WantsFromObserved(rest) ? jb::ProfileFromObservedCommand(rest, std::cout, std::cerr)
                                       : jb::ProfileCommand(rest, std::cout, std::cerr);
  if (verb == "plan") return jb::PlanCommand(rest, std::cout, std::cerr);
  if (verb == "apply" || verb == "get" || verb == "describe" || verb == "delete" || verb == "diff" || verb == "rollout")
    return jb::RemoteCommand(verb, rest, std::cout, std::cerr);
  std::cerr << "jbctl: unknown command \"" << verb << "\"\n" << jb::kUsage;
  return 1;
}
