#include "daemon/api_support.h"

#include <cctype>
#include <vector>

#include "api/types.h"

namespace jb {

namespace {

int Hex(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string Decode(const std::string& s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '+') {
      out += ' ';
    } else if (s[i] == '%' && i + 2 < s.size() && Hex(s[i + 1]) >= 0 && Hex(s[i + 2]) >= 0) {
      out += static_cast<char>(Hex(s[i + 1]) * 16 + Hex(s[i + 2]));
      i += 2;
    } else {
      out += s[i];
    }
  }
  return out;
}

struct ResourceInfo {
  const char* plural;
  const char* singular;
  const char* kind;
  const char* short_name;
  bool status;
  bool rollback;
};

const ResourceInfo kResources[] = {
    {"workflows", "workflow", "Workflow", "wf", true, true},
    {"modelprofiles", "modelprofile", "ModelProfile", "mp", false, false},
    {"infrastructures", "infrastructure", "Infrastructure", "infra", false, false},
};

Value Strings(std::initializer_list<const char*> items) {
  Value v = Value::Seq();
  for (const char* s : items) v.Append(Value::String(s));
  return v;
}

Value GroupVersion() {
  Value gv = Value::Map();
  gv.Set("groupVersion", Value::String(kApiVersion));
  gv.Set("version", Value::String("v1alpha1"));
  return gv;
}

Value Group() {
  Value g = Value::Map();
  g.Set("name", Value::String("jellybean.dev"));
  Value versions = Value::Seq();
  versions.Append(GroupVersion());
  g.Set("versions", std::move(versions));
  g.Set("preferredVersion", GroupVersion());
  return g;
}

Value ResourceList() {
  Value list = Value::Map();
  list.Set("kind", Value::String("APIResourceList"));
  list.Set("apiVersion", Value::String("v1"));
  list.Set("groupVersion", Value::String(kApiVersion));
  Value resources = Value::Seq();
  for (const auto& r : kResources) {
    Value v = Value::Map();
    v.Set("name", Value::String(r.plural));
    v.Set("singularName", Value::String(r.singular));
    v.Set("namespaced", Value::Bool(true));
    v.Set("kind", Value::String(r.kind));
    v.Set("verbs", Strings({"create", "delete", "get", "list", "patch", "update", "watch"}));
    v.Set("shortNames", Strings({r.short_name}));
    v.Set("categories", Strings({"jellybean", "all"}));
    resources.Append(std::move(v));
    if (r.status) {
      Value s = Value::Map();
      s.Set("name", Value::String(std::string(r.plural) + "/status"));
      s.Set("singularName", Value::String(""));
      s.Set("namespaced", Value::Bool(true));
      s.Set("kind", Value::String(r.kind));
      s.Set("verbs", Strings({"get"}));
      resources.Append(std::move(s));
    }
    if (r.rollback) {
      Value s = Value::Map();
      s.Set("name", Value::String(std::string(r.plural) + "/rollback"));
      s.Set("singularName", Value::String(""));
      s.Set("namespaced", Value::Bool(true));
      s.Set("kind", Value::String("Status"));
      s.Set("verbs", Strings({"create"}));
      resources.Append(std::move(s));
    }
  }
  Value events = Value::Map();
  events.Set("name", Value::String("events"));
  events.Set("singularName", Value::String("event"));
  events.Set("namespaced", Value::Bool(true));
  events.Set("kind", Value::String("EventList"));
  events.Set("verbs", Strings({"list"}));
  resources.Append(std::move(events));
  list.Set("resources", std::move(resources));
  return list;
}

}  // namespace

std::map<std::string, std::string> ParseQuery(const std::string& query) {
  std::map<std::string, std::string> out;
  size_t start = 0;
  while (start <= query.size()) {
    size_t amp = query.find('&', start);
    std::string part = query.substr(start, amp == std::string::npos ? std::string::npos : amp - start);
    if (!part.empty()) {
      size_t eq = part.find('=');
      out[Decode(part.substr(0, eq))] = eq == std::string::npos ? "" : Decode(part.substr(eq + 1));
    }
    if (amp == std::string::npos) break;
    start = amp + 1;
  }
  return out;
}

Value MergePatch(const Value& target, const Value& patch) {
  if (!patch.is_map()) return patch;
  Value out = target.is_map() ? target : Value::Map();
  for (const auto& pe : patch.entries()) {
    auto& entries = out.entries();
    auto it = entries.begin();
    while (it != entries.end() && it->key != pe.key) ++it;
    if (pe.value.is_null()) {
      if (it != entries.end()) entries.erase(it);
    } else if (it != entries.end()) {
      it->value = MergePatch(it->value, pe.value);
    } else {
      out.Set(pe.key, MergePatch(Value::Null(), pe.value));
    }
  }
  return out;
}

std::optional<Value> DiscoveryDocument(const std::string& path) {
  std::string p = path;
  while (p.size() > 1 && p.back() == '/') p.pop_back();
  if (p == "/apis") {
    Value list = Value::Map();
    list.Set("kind", Value::String("APIGroupList"));
    list.Set("apiVersion", Value::String("v1"));
    Value groups = Value::Seq();
    groups.Append(Group());
    list.Set("groups", std::move(groups));
    return list;
  }
  if (p == "/apis/jellybean.dev") {
    Value g = Group();
    Value out = Value::Map();
    out.Set("kind", Value::String("APIGroup"));
    out.Set("apiVersion", Value::String("v1"));
    for (auto& e : g.entries()) out.Set(e.key, e.value);
    return out;
  }
  if (p == "/apis/jellybean.dev/v1alpha1") return ResourceList();
  return std::nullopt;
}

}  // namespace jb
