// jbctl's client config: contexts, current-context, and the jbctl config commands.
#include "cli/client_config.h"

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "api/value.h"
#include "base/file.h"
#include "cli/cli_util.h"

namespace fs = std::filesystem;

namespace jb::cli {
namespace {

std::string Str(const Value& m, const char* key) {
  const Value* v = m.Find(key);
  return v && v->is_string() ? v->as_string() : "";
}

ClientContext ContextFrom(const Value& m, std::string name) {
  return ClientContext{std::move(name),     Str(m, "server"), Str(m, "token"),
                       Str(m, "tokenFile"), Str(m, "ca"),     Str(m, "stateDir")};
}

}  // namespace

std::string ConfigPath(const std::string& flag) {
  if (!flag.empty()) return flag;
  if (const char* env = std::getenv("JBCONFIG"); env && *env) return env;
  const char* home = std::getenv("HOME");
  return (fs::path(home ? home : "/root") / ".config/jellybean/config").string();
}

StatusOr<ClientConfig> LoadClientConfig(const std::string& path) {
  ClientConfig cfg;
  std::error_code ec;
  if (!fs::exists(path, ec)) return cfg;
  auto text = ReadFile(path);
  if (!text.ok()) return text.status();
  auto docs = ParseYamlStream(*text);
  if (docs.empty()) return cfg;
  if (!docs[0].error.ok()) return Status::InvalidArgument(path + ": " + docs[0].error.message());
  const Value& root = docs[0].root;
  if (root.is_null()) return cfg;
  if (!root.is_map()) return Status::InvalidArgument(path + ": expected a map at the top level");
  cfg.current_context = Str(root, "current-context");
  if (const Value* list = root.Find("contexts"); list && list->is_seq()) {
    for (const auto& c : list->items()) {
      if (!c.is_map() || Str(c, "name").empty())
        return Status::InvalidArgument(path + ": every entry of contexts needs a name");
      cfg.contexts.push_back(ContextFrom(c, Str(c, "name")));
    }
  }
  ClientContext flat = ContextFrom(root, "default");
  if (!flat.server.empty() || !flat.token.empty() || !flat.token_file.empty() || !flat.ca.empty() ||
      !flat.state_dir.empty()) {
    cfg.legacy = true;
    cfg.contexts.push_back(std::move(flat));
  }
  return cfg;
}

Status SaveClientConfig(const std::string& path, const ClientConfig& cfg) {
  Value root = Value::Map();
  if (!cfg.current_context.empty()) root.Set("current-context", Value::String(cfg.current_context));
  Value list = Value::Seq();
  for (const auto& c : cfg.contexts) {
    Value m = Value::Map();
    m.Set("name", Value::String(c.name));
    auto set = [&](const char* k, const std::string& v) {
      if (!v.empty()) m.Set(k, Value::String(v));
    };
    set("server", c.server);
    set("token", c.token);
    set("tokenFile", c.token_file);
    set("ca", c.ca);
    set("stateDir", c.state_dir);
    list.Append(std::move(m));
  }
  root.Set("contexts", std::move(list));
  std::error_code ec;
  if (fs::path(path).has_parent_path()) fs::create_directories(fs::path(path).parent_path(), ec);
  std::ofstream f(path, std::ios::trunc);
  f << ToYaml(root);
  if (!f) return Status::Internal("cannot write " + path);
  return Status::Ok();
}

const ClientContext* FindContext(const ClientConfig& cfg, const std::string& name) {
  const std::string& want = name.empty() ? cfg.current_context : name;
  for (const auto& c : cfg.contexts)
    if (!want.empty() && c.name == want) return &c;
  if (!name.empty()) return nullptr;
  for (const auto& c : cfg.contexts)
    if (c.name == "default" && cfg.legacy) return &c;
  return nullptr;
}

int ConfigCommand(const std::string& config_flag, const ConfigOptions& o, std::ostream& out, std::ostream& err) {
  const std::string path = ConfigPath(config_flag);
  auto cfg = LoadClientConfig(path);
  if (!cfg.ok()) {
    err << "jbctl config: " << cfg.status().message() << "\n";
    return 1;
  }
  if (o.action == "get-contexts") {
    std::vector<std::vector<std::string>> rows = {{"CURRENT", "NAME", "SERVER"}};
    for (const auto& c : cfg->contexts)
      rows.push_back({c.name == cfg->current_context ? "*" : "", c.name, c.server.empty() ? "<state dir>" : c.server});
    PrintTable(out, rows, 3);
    return 0;
  }
  if (o.action == "current-context") {
    if (cfg->current_context.empty()) {
      err << "jbctl config: current-context is not set in " << path << "\n";
      return 1;
    }
    out << cfg->current_context << "\n";
    return 0;
  }
  if (o.action == "use-context") {
    if (FindContext(*cfg, o.name) == nullptr) {
      err << "jbctl config: no context named \"" << o.name << "\" in " << path << "\n";
      return 1;
    }
    cfg->current_context = o.name;
  } else if (o.action == "set-context") {
    ClientContext* c = nullptr;
    for (auto& x : cfg->contexts)
      if (x.name == o.name) c = &x;
    if (c == nullptr) c = &cfg->contexts.emplace_back(ClientContext{o.name, "", "", "", "", ""});
    auto keep = [](std::string* dst, const std::string& v) {
      if (!v.empty()) *dst = v;
    };
    keep(&c->server, o.fields.server);
    keep(&c->token, o.fields.token);
    keep(&c->token_file, o.fields.token_file);
    keep(&c->ca, o.fields.ca);
    keep(&c->state_dir, o.fields.state_dir);
  } else {
    err << "jbctl config: unknown action \"" << o.action << "\"\n";
    return 1;
  }
  if (Status s = SaveClientConfig(path, *cfg); !s.ok()) {
    err << "jbctl config: " << s.message() << "\n";
    return 1;
  }
  out << (o.action == "use-context" ? "Switched to context \"" : "Context \"") << o.name
      << (o.action == "use-context" ? "\".\n" : "\" set.\n");
  return 0;
}

}  // namespace jb::cli
