// jbctl commands that talk to jellybeand: the connection, response helpers and the dispatch to
// the command families (apply_commands.cc, get_commands.cc, rollout_commands.cc,
// what_if_command.cc).
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "api/manifest.h"
#include "base/file.h"
#include "cli/commands.h"
#include "cli/remote.h"

namespace fs = std::filesystem;

namespace jb {
namespace cli {

namespace {

// The file's content without trailing whitespace; "" when it cannot be read.
std::string ReadTrimmed(const std::string& path) {
  std::string s = ReadFileOrEmpty(path);
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ')) s.pop_back();
  return s;
}

}  // namespace

std::string PluralOf(const std::string& kind) {
  std::string k;
  for (char c : kind) k += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (k == "workflow" || k == "workflows" || k == "wf") return "workflows";
  if (k == "modelprofile" || k == "modelprofiles" || k == "mp") return "modelprofiles";
  if (k == "infrastructure" || k == "infrastructures" || k == "infra") return "infrastructures";
  return "";
}

StatusOr<Remote> Connect(const std::vector<std::string>& args) {
  Remote r;
  std::string server, token_file, ca, state_dir;
  for (size_t i = 0; i < args.size(); ++i) {
    auto take = [&](std::string* out) {
      if (i + 1 < args.size()) *out = args[++i];
    };
    if (args[i] == "--server")
      take(&server);
    else if (args[i] == "--token-file")
      take(&token_file);
    else if (args[i] == "--ca")
      take(&ca);
    else if (args[i] == "--state-dir")
      take(&state_dir);
    else
      r.rest.push_back(args[i]);
  }
  const char* home = std::getenv("HOME");
  fs::path user_cfg = fs::path(home ? home : "/root") / ".config/jellybean/config";
  if (fs::exists(user_cfg)) {
    auto docs = ParseYamlStream(ReadTrimmed(user_cfg.string()));
    if (!docs.empty() && docs[0].error.ok() && docs[0].root.is_map()) {
      auto str = [&](const char* key, std::string* out) {
        const Value* v = docs[0].root.Find(key);
        if (out->empty() && v && v->is_string()) *out = v->as_string();
      };
      str("server", &server);
      str("tokenFile", &token_file);
      str("ca", &ca);
      str("stateDir", &state_dir);
    }
  }
  if (state_dir.empty()) {
    const char* env = std::getenv("JB_STATE_DIR");
    state_dir = env && *env ? env : "/var/lib/jellybean";
  }
  if (server.empty()) {
    server = ReadTrimmed((fs::path(state_dir) / "endpoint").string());
    if (server.empty())
      return Status::Unavailable("no server: pass --server, or --state-dir of a running jellybeand (none found at " +
                                 state_dir + ")");
  }
  if (token_file.empty()) token_file = (fs::path(state_dir) / "token").string();
  if (ca.empty() && server.rfind("https://", 0) == 0) ca = (fs::path(state_dir) / "tls/ca.crt").string();
  r.http.server = server;
  r.http.ca_file = ca;
  r.state_dir = state_dir;
  r.http.token = ReadTrimmed(token_file);
  if (r.http.token.empty()) return Status::Unavailable("cannot read the token file " + token_file);
  return r;
}

std::string ErrorOf(const HttpResponse& resp) {
  auto docs = ParseYamlStream(resp.body);
  std::string msg = "HTTP " + std::to_string(resp.status);
  if (docs.empty() || !docs[0].error.ok() || !docs[0].root.is_map()) return msg;
  if (const Value* m = docs[0].root.Find("message"); m && m->is_string()) msg += ": " + m->as_string();
  if (const Value* d = docs[0].root.Find("details"))
    if (const Value* c = d->Find("causes"))
      for (const auto& cause : c->items()) msg += "\n  " + cause.as_string();
  return msg;
}

StatusOr<Object> DecodeResponse(const HttpResponse& resp) {
  std::vector<Diagnostic> diags;
  return ObjectFromText(resp.body, "server response", &diags);
}

std::optional<Workflow> FetchWorkflow(const Remote& r, const std::string& name, const std::string& what,
                                      std::ostream& err) {
  auto resp = HttpCall(r.http, "GET", kApiPath + "workflows/" + name);
  if (!resp.ok() || resp->status != 200) {
    err << what << ": " << (resp.ok() ? ErrorOf(*resp) : resp.status().message()) << "\n";
    return std::nullopt;
  }
  auto obj = DecodeResponse(*resp);
  if (!obj.ok() || !std::holds_alternative<Workflow>(*obj)) {
    err << what << ": malformed object from the server\n";
    return std::nullopt;
  }
  return std::get<Workflow>(*obj);
}

}  // namespace cli

int RemoteCommand(const std::string& verb, const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  auto r = cli::Connect(args);
  if (!r.ok()) {
    err << "jbctl " << verb << ": " << r.status().message() << "\n";
    return verb == "diff" ? 2 : 1;
  }
  if (verb == "apply") return cli::Apply(*r, out, err);
  if (verb == "get") return cli::Get(*r, out, err);
  if (verb == "describe") return cli::Describe(*r, out, err);
  if (verb == "delete") return cli::Delete(*r, out, err);
  if (verb == "diff") return cli::Diff(*r, out, err);
  if (verb == "rollout") return cli::Rollout(*r, out, err);
  if (verb == "what-if") return cli::WhatIf(*r, out, err);
  err << "jbctl: unknown command \"" << verb << "\"\n";
  return 1;
}

}  // namespace jb
