// jbctl version and explain: the client's and server's versions, and field documentation from the
// CustomResourceDefinitions.
#include <sstream>

#include "api/crd.h"
#include "api/value.h"
#include "cli/remote.h"

namespace jb::cli {

namespace {

std::string Str(const Value* v, const char* key) {
  const Value* f = v ? v->Find(key) : nullptr;
  return f && f->is_string() ? f->as_string() : "";
}

// "<string>", "<[]Object>", "<map[string]number>" like kubectl explain.
std::string TypeOf(const Value& schema) {
  std::string t = Str(&schema, "type");
  if (t == "array") {
    const Value* items = schema.Find("items");
    std::string it = items ? Str(items, "type") : "";
    return "[]" + (it == "object" ? std::string("Object") : it);
  }
  if (t == "object" && schema.Find("additionalProperties") && schema.Find("additionalProperties")->is_map())
    return "map[string]" + Str(schema.Find("additionalProperties"), "type");
  return t == "object" ? "Object" : t;
}

// The properties under a schema, looking through arrays' items.
const Value* PropertiesOf(const Value& schema) {
  if (const Value* p = schema.Find("properties")) return p;
  if (const Value* items = schema.Find("items")) return items->Find("properties");
  return nullptr;
}

const Value* RequiredOf(const Value& schema) {
  if (const Value* r = schema.Find("required")) return r;
  if (const Value* items = schema.Find("items")) return items->Find("required");
  return nullptr;
}

void Indent(std::ostream& out, const std::string& text, const std::string& pad) {
  std::stringstream ss(text);
  for (std::string line; std::getline(ss, line);) out << pad << line << "\n";
}

void PrintFields(const Value& schema, bool recursive, const std::string& pad, std::ostream& out) {
  const Value* props = PropertiesOf(schema);
  if (props == nullptr) return;
  const Value* req = RequiredOf(schema);
  for (const auto& e : props->entries()) {
    bool required = false;
    if (req)
      for (const auto& x : req->items()) required = required || (x.is_string() && x.as_string() == e.key);
    out << pad << e.key << "\t<" << TypeOf(e.value) << ">" << (required ? " -required-" : "") << "\n";
    if (recursive) {
      PrintFields(e.value, true, pad + "  ", out);
    } else {
      std::string d = Str(&e.value, "description");
      Indent(out, d.empty() ? "<no description>" : d, pad + "  ");
      out << "\n";
    }
  }
}

}  // namespace

int Version(const std::optional<Remote>& r, const std::string& connect_error, const VersionOptions& o,
            std::ostream& out, std::ostream& err) {
  if (!o.output.empty() && o.output != "json" && o.output != "yaml") {
    err << "jbctl version: --output must be json or yaml\n";
    return 1;
  }
  Value client = Value::Map();
  client.Set("gitVersion", Value::String(kClientVersion));
  Value all = Value::Map();
  all.Set("clientVersion", client);
  std::string server_error;
  if (!o.client_only) {
    if (!r) {
      server_error = connect_error;
    } else {
      auto resp = HttpCall(r->http, "GET", "/version");
      if (!resp.ok()) {
        server_error = resp.status().message();
      } else if (resp->status != 200) {
        server_error = ErrorOf(*resp);
      } else {
        auto docs = ParseYamlStream(resp->body);
        if (docs.empty() || !docs[0].error.ok() || !docs[0].root.is_map())
          server_error = "malformed answer to GET /version";
        else
          all.Set("serverVersion", docs[0].root);
      }
    }
  }
  if (o.output == "json")
    out << ToJson(all, true) << "\n";
  else if (o.output == "yaml")
    out << ToYaml(all);
  else {
    out << "Client Version: " << kClientVersion << "\n";
    if (const Value* s = all.Find("serverVersion")) out << "Server Version: " << Str(s, "gitVersion") << "\n";
  }
  if (!server_error.empty()) {
    err << "jbctl version: cannot read the server's version: " << server_error << "\n";
    return 1;
  }
  return 0;
}

int Explain(const ExplainOptions& o, std::ostream& out, std::ostream& err) {
  std::string kind_part = o.field.substr(0, o.field.find('.'));
  std::string plural = PluralOf(kind_part);
  std::string kind;
  for (const auto& k : Kinds())
    if (PluralOf(k) == plural) kind = k;
  if (plural.empty() || kind.empty()) {
    err << "jbctl explain: unknown kind \"" << kind_part << "\"; expected workflow, modelprofile or infrastructure\n";
    return 1;
  }
  auto crd = CrdForKind(kind);
  if (!crd.ok()) {
    err << "jbctl explain: " << crd.status().message() << "\n";
    return 1;
  }
  const Value* versions = crd->Find("spec") ? crd->Find("spec")->Find("versions") : nullptr;
  const Value* schema = nullptr;
  std::string version;
  if (versions && versions->is_seq() && !versions->items().empty()) {
    const Value& v = versions->items()[0];
    version = Str(&v, "name");
    if (const Value* s = v.Find("schema")) schema = s->Find("openAPIV3Schema");
  }
  if (schema == nullptr) {
    err << "jbctl explain: the CRD of " << kind << " has no schema\n";
    return 1;
  }
  std::string path = o.field.find('.') == std::string::npos ? "" : o.field.substr(o.field.find('.') + 1);
  const Value* cur = schema;
  std::string field_name;
  std::stringstream ss(path);
  for (std::string part; std::getline(ss, part, '.');) {
    const Value* props = PropertiesOf(*cur);
    const Value* next = props ? props->Find(part) : nullptr;
    if (next == nullptr) {
      err << "jbctl explain: field \"" << part << "\" does not exist in " << o.field << "\n";
      return 1;
    }
    cur = next;
    field_name = part;
  }
  out << "KIND:     " << kind << "\nVERSION:  jellybean.dev/" << version << "\n\n";
  if (!field_name.empty()) out << "FIELD:    " << field_name << " <" << TypeOf(*cur) << ">\n\n";
  std::string d = Str(cur, "description");
  out << "DESCRIPTION:\n";
  Indent(out, d.empty() ? "<no description>" : d, "     ");
  if (PropertiesOf(*cur) != nullptr) {
    out << "\nFIELDS:\n";
    PrintFields(*cur, o.recursive, "   ", out);
  }
  return 0;
}

}  // namespace jb::cli
