#include "api/crd.h"

#include <set>

namespace jb {

Value Schema::ToValue() const {
  Value v = Value::Map();
  v.Set("type", Value::String(type));
  if (!description.empty()) v.Set("description", Value::String(description));
  if (!enum_values.empty()) {
    Value e = Value::Seq();
    for (const auto& s : enum_values) e.Append(Value::String(s));
    v.Set("enum", std::move(e));
  }
  if (min_length > 0) v.Set("minLength", Value::Integer(min_length));
  if (max_length) v.Set("maxLength", Value::Integer(*max_length));
  if (max_items) v.Set(type == "array" ? "maxItems" : "maxProperties", Value::Integer(*max_items));
  if (minimum) {
    v.Set("minimum", Value::Number(*minimum));
    if (exclusive_minimum) v.Set("exclusiveMinimum", Value::Bool(true));
  }
  if (maximum) v.Set("maximum", Value::Number(*maximum));
  if (items) v.Set("items", items->ToValue());
  if (additional_properties) v.Set("additionalProperties", additional_properties->ToValue());
  if (!properties.empty()) {
    Value p = Value::Map();
    for (const auto& [name, s] : properties) p.Set(name, s.ToValue());
    v.Set("properties", std::move(p));
  }
  if (!required.empty()) {
    Value r = Value::Seq();
    for (const auto& s : required) r.Append(Value::String(s));
    v.Set("required", std::move(r));
  }
  return v;
}

std::vector<std::string> Kinds() { return {"Workflow", "ModelProfile", "Infrastructure"}; }

namespace {

template <class T>
Schema TopLevel() {
  Schema s = SchemaBuilder::Build<T>();
  Schema api;
  api.type = "string";
  api.description = "jellybean.dev/v1alpha1";
  Schema kind;
  kind.type = "string";
  kind.description = T::kKind;
  // Kubernetes owns metadata's schema; a CRD may only say it is an object.
  for (auto& [name, prop] : s.properties) {
    if (name == "metadata") {
      prop = Schema();
      prop.type = "object";
    }
  }
  s.properties.insert(s.properties.begin(), {"kind", kind});
  s.properties.insert(s.properties.begin(), {"apiVersion", api});
  s.required = {"apiVersion", "kind", "metadata", "spec"};
  return s;
}

// Kubernetes extensions the C++ schema does not carry: list-map keys for lists of named items
// (kubectl and server-side apply merge them by name; the API server refuses duplicate names),
// format date-time on RFC 3339 times.
void Decorate(Value* v) {
  if (!v->is_map()) return;
  const Value* type = v->Find("type");
  if (type != nullptr && type->is_string() && type->as_string() == "array") {
    const Value* items = v->Find("items");
    const Value* req = items != nullptr ? items->Find("required") : nullptr;
    bool named = false;
    if (req != nullptr)
      for (const auto& r : req->items()) named |= r.is_string() && r.as_string() == "name";
    if (named) {
      v->Set("x-kubernetes-list-type", Value::String("map"));
      Value keys = Value::Seq();
      keys.Append(Value::String("name"));
      v->Set("x-kubernetes-list-map-keys", std::move(keys));
    }
  }
  for (auto& e : v->entries()) {
    if (e.key == "properties") {
      for (auto& p : e.value.entries()) {
        static const char* kTimes[] = {"lastTransitionTime", "time", "triggered", "switched"};
        for (const char* t : kTimes)
          if (p.key == t && p.value.Find("type") && p.value.Find("type")->as_string() == "string")
            p.value.Set("format", Value::String("date-time"));
        Decorate(&p.value);
      }
    } else if (e.key == "items" || e.key == "additionalProperties") {
      Decorate(&e.value);
    }
  }
}

// Adds a CEL rule (x-kubernetes-validations) to the object schema at `path` (property names).
void AddRule(Value* schema, const std::vector<std::string>& path, const std::string& rule, const std::string& message) {
  Value* v = schema;
  for (const auto& name : path) {
    Value* props = nullptr;
    for (auto& e : v->entries())
      if (e.key == "properties") props = &e.value;
    if (props == nullptr) return;
    Value* next = nullptr;
    for (auto& e : props->entries())
      if (e.key == name) next = &e.value;
    if (next == nullptr) return;
    v = next;
  }
  Value* rules = nullptr;
  for (auto& e : v->entries())
    if (e.key == "x-kubernetes-validations") rules = &e.value;
  if (rules == nullptr) rules = &v->Set("x-kubernetes-validations", Value::Seq());
  Value r = Value::Map();
  r.Set("rule", Value::String(rule));
  r.Set("message", Value::String(message));
  rules->Append(std::move(r));
}

// The cross-field checks of api/validate.cc that CEL can express within one object.
void AddRules(const std::string& kind, Value* schema) {
  if (kind == "Workflow") {
    AddRule(schema, {"spec"},
            "self.operators.all(o, o.inputs.all(i, self.sources.exists(s, s.name == i.from) || "
            "self.operators.exists(p, p.name == i.from)))",
            "every operator input must name a source or an operator of this workflow");
    AddRule(schema, {"spec"}, "self.operators.all(o, !self.sources.exists(s, s.name == o.name))",
            "operator and source names must differ");
    AddRule(schema, {"spec"}, "self.operators.all(o, o.inputs.all(i, i.from != o.name))",
            "an operator cannot be its own input");
    AddRule(schema, {"spec", "accuracy", "table"}, "self.entries.all(e, size(e.variants) == size(self.operators))",
            "every table entry names one variant per table operator");
    AddRule(schema, {"spec", "accuracy"},
            "!has(self.scorer) || self.scorer != 'exec' || (has(self.scorerCommand) && size(self.scorerCommand) > 0)",
            "scorer exec needs scorerCommand");
  } else if (kind == "Infrastructure") {
    AddRule(schema, {"spec"}, "self.nodes.all(n, self.tiers.exists(t, t.name == n.tier))",
            "every node's tier must be one of spec.tiers");
  }
}

Value PrinterColumn(const std::string& name, const std::string& type, const std::string& path,
                    const std::string& description, int priority = 0) {
  Value c = Value::Map();
  c.Set("name", Value::String(name));
  c.Set("type", Value::String(type));
  c.Set("jsonPath", Value::String(path));
  if (!description.empty()) c.Set("description", Value::String(description));
  if (priority > 0) c.Set("priority", Value::Integer(priority));
  return c;
}

Value PrinterColumns(const std::string& kind) {
  Value cols = Value::Seq();
  if (kind == "Workflow") {
    cols.Append(PrinterColumn("Planned", "string", ".status.conditions[?(@.type==\"Planned\")].status", ""));
    cols.Append(PrinterColumn("Ready", "string", ".status.conditions[?(@.type==\"Ready\")].status", ""));
    cols.Append(PrinterColumn("SLOMet", "string", ".status.conditions[?(@.type==\"SLOMet\")].status", ""));
    cols.Append(PrinterColumn("Cost/h", "number", ".status.plan.cost.totalPerHour", "Predicted USD per hour"));
    cols.Append(PrinterColumn("Accuracy", "number", ".status.plan.accuracy", "Predicted accuracy, percent"));
    cols.Append(PrinterColumn("Epoch", "integer", ".status.planEpoch", "", 1));
    cols.Append(PrinterColumn("Infrastructure", "string", ".spec.infrastructure", "", 1));
  } else if (kind == "ModelProfile") {
    cols.Append(PrinterColumn("Variants", "integer", ".spec.variants.length()", "", 1));
  } else {
    cols.Append(PrinterColumn("Tiers", "integer", ".spec.tiers.length()", "", 1));
  }
  cols.Append(PrinterColumn("Age", "date", ".metadata.creationTimestamp", ""));
  return cols;
}

}  // namespace

StatusOr<Schema> SchemaForKind(const std::string& kind) {
  if (kind == "Workflow") return TopLevel<Workflow>();
  if (kind == "ModelProfile") return TopLevel<ModelProfile>();
  if (kind == "Infrastructure") return TopLevel<Infrastructure>();
  return Status::NotFound("unknown kind " + kind);
}

StatusOr<Value> CrdForKind(const std::string& kind) {
  auto schema = SchemaForKind(kind);
  if (!schema.ok()) return schema.status();
  std::string plural, singular;
  for (char c : kind) singular += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  plural = singular + "s";
  Value crd = Value::Map();
  crd.Set("apiVersion", Value::String("apiextensions.k8s.io/v1"));
  crd.Set("kind", Value::String("CustomResourceDefinition"));
  Value meta = Value::Map();
  meta.Set("name", Value::String(plural + ".jellybean.dev"));
  crd.Set("metadata", std::move(meta));
  Value spec = Value::Map();
  spec.Set("group", Value::String("jellybean.dev"));
  Value names = Value::Map();
  names.Set("kind", Value::String(kind));
  names.Set("listKind", Value::String(kind + "List"));
  names.Set("plural", Value::String(plural));
  names.Set("singular", Value::String(singular));
  Value short_names = Value::Seq();
  short_names.Append(Value::String(kind == "Workflow" ? "wf" : kind == "ModelProfile" ? "mp" : "infra"));
  names.Set("shortNames", std::move(short_names));
  Value categories = Value::Seq();
  categories.Append(Value::String("jellybean"));
  categories.Append(Value::String("all"));
  names.Set("categories", std::move(categories));
  spec.Set("names", std::move(names));
  // One namespace, "default" (api/common_types.h): Namespaced, as kubectl and the REST paths
  // (/namespaces/default/...) expect.
  spec.Set("scope", Value::String("Namespaced"));
  Value version = Value::Map();
  version.Set("name", Value::String("v1alpha1"));
  version.Set("served", Value::Bool(true));
  version.Set("storage", Value::Bool(true));
  if (kind == "Workflow" || kind == "ModelProfile") {
    Value sub = Value::Map();
    sub.Set("status", Value::Map());
    version.Set("subresources", std::move(sub));
  }
  version.Set("additionalPrinterColumns", PrinterColumns(kind));
  Value open_api = schema->ToValue();
  Decorate(&open_api);
  AddRules(kind, &open_api);
  Value sch = Value::Map();
  sch.Set("openAPIV3Schema", std::move(open_api));
  version.Set("schema", std::move(sch));
  Value versions = Value::Seq();
  versions.Append(std::move(version));
  spec.Set("versions", std::move(versions));
  crd.Set("spec", std::move(spec));
  return crd;
}

std::vector<std::string> CompareSchema(const Schema& cpp, const Value& crd, const std::string& path) {
  std::vector<std::string> out;
  std::string where = path.empty() ? "(root)" : path;
  if (!crd.is_map()) {
    out.push_back(where + ": not a schema object in the CRD");
    return out;
  }
  const Value* type = crd.Find("type");
  std::string crd_type = type && type->is_string() ? type->as_string() : "";
  if (crd_type != cpp.type)
    out.push_back(where + ": type " + cpp.type + " in C++, " + (crd_type.empty() ? "none" : crd_type) + " in CRD");
  // Enums.
  std::vector<std::string> crd_enum;
  if (const Value* e = crd.Find("enum"); e && e->is_seq())
    for (const auto& item : e->items()) crd_enum.push_back(item.is_string() ? item.as_string() : ToJson(item));
  if (crd_enum != cpp.enum_values) out.push_back(where + ": enum differs between C++ and CRD");
  // Bounds: the CRD must state the same limits the decoder enforces.
  auto bound = [&](const char* key, std::optional<double> want) {
    const Value* b = crd.Find(key);
    std::optional<double> got;
    if (b != nullptr && b->is_number()) got = b->as_number();
    if (got != want)
      out.push_back(where + ": " + key + " " + (want ? FormatNumber(*want) : "none") + " in C++, " +
                    (got ? FormatNumber(*got) : "none") + " in CRD");
  };
  auto as_double = [](std::optional<int64_t> i) {
    return i ? std::optional<double>(static_cast<double>(*i)) : std::nullopt;
  };
  bound("minimum", cpp.minimum);
  bound("maximum", cpp.maximum);
  bound("minLength", cpp.min_length > 0 ? std::optional<double>(static_cast<double>(cpp.min_length)) : std::nullopt);
  bound("maxLength", as_double(cpp.max_length));
  bound(cpp.type == "array" ? "maxItems" : "maxProperties", as_double(cpp.max_items));
  // Required.
  std::set<std::string> crd_req, cpp_req(cpp.required.begin(), cpp.required.end());
  if (const Value* r = crd.Find("required"); r && r->is_seq())
    for (const auto& item : r->items()) crd_req.insert(item.is_string() ? item.as_string() : "");
  for (const auto& r : cpp_req)
    if (!crd_req.count(r)) out.push_back(where + "." + r + ": required in C++, optional in CRD");
  for (const auto& r : crd_req)
    if (!cpp_req.count(r)) out.push_back(where + "." + r + ": required in CRD, optional in C++");
  // Properties, both ways.
  const Value* props = crd.Find("properties");
  std::set<std::string> cpp_names;
  for (const auto& [name, s] : cpp.properties) {
    cpp_names.insert(name);
    const Value* p = props ? props->Find(name) : nullptr;
    std::string child = path.empty() ? name : path + "." + name;
    if (p == nullptr) {
      out.push_back(child + ": field exists in C++ but not in the CRD");
      continue;
    }
    // metadata is Kubernetes-owned: only its type is compared.
    if (path.empty() && name == "metadata") continue;
    for (auto& d : CompareSchema(s, *p, child)) out.push_back(std::move(d));
  }
  if (props != nullptr && props->is_map())
    for (const auto& e : props->entries())
      if (!cpp_names.count(e.key))
        out.push_back((path.empty() ? e.key : path + "." + e.key) + ": field exists in the CRD but not in C++");
  // Items / map values.
  if (cpp.items) {
    const Value* i = crd.Find("items");
    if (i == nullptr)
      out.push_back(where + ": list item schema missing in CRD");
    else
      for (auto& d : CompareSchema(*cpp.items, *i, path + "[]")) out.push_back(std::move(d));
  }
  if (cpp.additional_properties) {
    const Value* a = crd.Find("additionalProperties");
    if (a == nullptr)
      out.push_back(where + ": map value schema missing in CRD");
    else
      for (auto& d : CompareSchema(*cpp.additional_properties, *a, path + ".*")) out.push_back(std::move(d));
  }
  return out;
}

}  // namespace jb
