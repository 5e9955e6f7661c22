// jbctl commands that talk to jellybeand: the connection (flags, client config contexts, the
// local daemon's state dir) and the response helpers shared by the command files.
#include <cstdlib>
#include <filesystem>

#include "api/manifest.h"
#include "base/file.h"
#include "cli/client_config.h"
#include "cli/commands.h"
#include "cli/remote.h"

namespace fs = std::filesystem;

namespace jb::cli {

namespace {

// The file's content without trailing whitespace; "" when it cannot be read.
std::string ReadTrimmed(const std::string& path) {
  std::string s = ReadFileOrEmpty(path);
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ')) s.pop_back();
  return s;
}

std::string Lower(const std::string& s) {
  std::string k;
  for (char c : s) k += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return k;
}

}  // namespace

std::string PluralOf(const std::string& kind) {
  std::string k = Lower(kind);
  if (auto dot = k.find(".jellybean.dev"); dot != std::string::npos && dot + 14 == k.size()) k.resize(dot);
  if (k == "workflow" || k == "workflows" || k == "wf") return "workflows";
  if (k == "modelprofile" || k == "modelprofiles" || k == "mp") return "modelprofiles";
  if (k == "infrastructure" || k == "infrastructures" || k == "infra") return "infrastructures";
  return "";
}

std::string SingularOf(const std::string& plural) {
  return plural.empty() || plural.back() != 's' ? plural : plural.substr(0, plural.size() - 1);
}

StatusOr<Remote> ConnectWith(const ConnectionFlags& f) {
  Remote r;
  std::string server = f.server, token = f.token, token_file = f.token_file, ca = f.ca, state_dir = f.state_dir;
  const std::string cfg_path = ConfigPath(f.config);
  auto cfg = LoadClientConfig(cfg_path);
  if (!cfg.ok()) return cfg.status();
  const ClientContext* ctx = FindContext(*cfg, f.context);
  if (!f.context.empty() && ctx == nullptr)
    return Status::NotFound("no context named \"" + f.context + "\" in " + cfg_path);
  if (ctx != nullptr) {
    auto fill = [](std::string* dst, const std::string& v) {
      if (dst->empty()) *dst = v;
    };
    // A context's server comes with its own credentials: flags still win field by field.
    fill(&server, ctx->server);
    if (token.empty() && token_file.empty()) {
      token = ctx->token;
      token_file = ctx->token_file;
    }
    fill(&ca, ctx->ca);
    fill(&state_dir, ctx->state_dir);
  }
  if (state_dir.empty()) {
    const char* env = std::getenv("JB_STATE_DIR");
    state_dir = env && *env ? env : "/var/lib/jellybean";
  }
  if (server.empty()) {
    server = ReadTrimmed((fs::path(state_dir) / "endpoint").string());
    if (server.empty())
      return Status::Unavailable(
          "no server: pass --server or --context, or --state-dir of a running jellybeand (none "
          "found at " +
          state_dir + ")");
  }
  if (token.empty()) {
    if (token_file.empty()) token_file = (fs::path(state_dir) / "token").string();
    token = ReadTrimmed(token_file);
    if (token.empty()) return Status::Unavailable("cannot read the token file " + token_file);
  }
  if (ca.empty() && server.rfind("https://", 0) == 0) ca = (fs::path(state_dir) / "tls/ca.crt").string();
  r.http.server = server;
  r.http.ca_file = ca;
  r.http.token = token;
  r.http.timeout_s = f.timeout_s;
  r.state_dir = state_dir;
  return r;
}

StatusOr<Remote> Connect(const std::vector<std::string>& args) {
  ConnectionFlags f;
  std::vector<std::string> rest;
  for (size_t i = 0; i < args.size(); ++i) {
    std::string* dst = nullptr;
    const std::string& a = args[i];
    if (a == "--server") dst = &f.server;
    if (a == "--token") dst = &f.token;
    if (a == "--token-file") dst = &f.token_file;
    if (a == "--ca") dst = &f.ca;
    if (a == "--state-dir") dst = &f.state_dir;
    if (a == "--context") dst = &f.context;
    if (a == "--config") dst = &f.config;
    if (dst != nullptr && i + 1 < args.size())
      *dst = args[++i];
    else if (dst == nullptr)
      rest.push_back(a);
  }
  auto r = ConnectWith(f);
  if (r.ok()) r->rest = std::move(rest);
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

StatusOr<std::vector<Object>> DecodeList(const HttpResponse& resp) {
  auto docs = ParseYamlStream(resp.body);
  if (docs.empty() || !docs[0].error.ok() || !docs[0].root.Find("items"))
    return Status::InvalidArgument("malformed list from the server");
  std::vector<Object> objects;
  for (const auto& item : docs[0].root.Find("items")->items()) {
    Document d;
    d.file = "server response";
    DecodeDocument(item, &d);
    if (d.object) objects.push_back(*d.object);
  }
  return objects;
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

bool ResolveTarget(const std::vector<std::string>& pos, std::string* plural, std::string* name, const std::string& what,
                   std::ostream& err) {
  std::string kind;
  if (pos.size() == 1 && pos[0].find('/') != std::string::npos) {
    kind = pos[0].substr(0, pos[0].find('/'));
    *name = pos[0].substr(pos[0].find('/') + 1);
  } else if (pos.size() == 2) {
    kind = pos[0];
    *name = pos[1];
  } else {
    err << what << ": expected KIND NAME or KIND/NAME\n";
    return false;
  }
  *plural = PluralOf(kind);
  if (plural->empty()) {
    err << what << ": unknown kind \"" << kind << "\"; expected workflows, modelprofiles or infrastructures\n";
    return false;
  }
  if (name->empty()) {
    err << what << ": expected a name after " << kind << "/\n";
    return false;
  }
  return true;
}

}  // namespace jb::cli

namespace jb {

int RemoteCommand(const std::string& verb, const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  auto r = cli::Connect(args);
  if (!r.ok()) {
    err << "jbctl " << verb << ": " << r.status().message() << "\n";
    return 1;
  }
  if (verb == "what-if") return cli::WhatIf(*r, out, err);
  err << "jbctl: unknown command \"" << verb << "\"\n";
  return 1;
}

}  // namespace jb
