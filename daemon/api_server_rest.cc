// ApiServer (daemon/api_server.h): events, list, watch, create/update and merge patch.
#include <chrono>
#include <memory>

#include "api/manifest.h"
#include "daemon/api_server.h"
#include "daemon/api_server_internal.h"
#include "daemon/api_support.h"
#include "daemon/label_selector.h"
#include "daemon/manifest_ownership.h"

namespace jb {

using api_internal::FromStatus;
using api_internal::StatusResponse;

namespace {

HttpResponse InvalidBody(const std::string& kind, const std::vector<Diagnostic>& diags) {
  std::vector<std::string> causes;
  for (const auto& d : diags) causes.push_back(d.ToString());
  return StatusResponse(400, "Invalid", "the " + kind + " is invalid (" + std::to_string(causes.size()) + " error(s))",
                        causes);
}

}  // namespace

HttpResponse ApiServer::Events(const HttpRequest& req, const std::vector<std::string>& parts) const {
  if (req.method != "GET") return StatusResponse(405, "MethodNotAllowed", "events are read-only");
  Value list = Value::Map();
  list.Set("kind", Value::String("EventList"));
  Value items = Value::Seq();
  if (events_ != nullptr)
    for (const auto& e : events_->List(parts.size() == 3 ? parts[1] : "", parts.size() == 3 ? parts[2] : "")) {
      Value v = Value::Map();
      v.Set("time", Value::String(e.time));
      v.Set("object", Value::String(e.kind + "/" + e.name));
      v.Set("type", Value::String(e.type));
      v.Set("reason", Value::String(e.reason));
      v.Set("message", Value::String(e.message));
      v.Set("count", Value::Integer(e.count));
      items.Append(std::move(v));
    }
  list.Set("items", std::move(items));
  return HttpResponse{200, "application/json", ToJson(list) + "\n"};
}

HttpResponse ApiServer::List(const std::string& kind, const std::map<std::string, std::string>& query) const {
  LabelSelector selector;
  if (auto it = query.find("labelSelector"); it != query.end()) {
    auto sel = LabelSelector::Parse(it->second);
    if (!sel.ok()) return StatusResponse(400, "BadRequest", sel.status().message());
    selector = std::move(*sel);
  }
  Value list = Value::Map();
  list.Set("apiVersion", Value::String(kApiVersion));
  list.Set("kind", Value::String(kind + "List"));
  if (watch_ != nullptr) {
    // Read before listing: a watch from here misses nothing the list does not show.
    Value meta = Value::Map();
    meta.Set("resourceVersion", Value::String(std::to_string(watch_->version())));
    list.Set("metadata", std::move(meta));
  }
  Value items = Value::Seq();
  for (const auto& obj : store_->List(kind))
    if (selector.Matches(MetaOf(obj).labels)) items.Append(EncodeObject(obj));
  list.Set("items", std::move(items));
  return HttpResponse{200, "application/json", ToJson(list) + "\n"};
}

HttpResponse ApiServer::Watch(const std::string& kind, const std::string& name,
                              const std::map<std::string, std::string>& query) {
  if (watch_ == nullptr) return StatusResponse(503, "ServiceUnavailable", "this server does not serve watches");
  WatchFilter filter;
  filter.kind = kind;
  filter.name = name;
  if (auto it = query.find("fieldSelector"); it != query.end() && !it->second.empty()) {
    const std::string prefix = "metadata.name=";
    std::string f = it->second;
    if (f.compare(0, prefix.size(), prefix) != 0 && f.compare(0, prefix.size() + 1, "metadata.name==") != 0)
      return StatusResponse(400, "BadRequest", "fieldSelector supports metadata.name=NAME only");
    std::string n = f.substr(f.find_last_of('=') + 1);
    if (!name.empty() && n != name)
      return StatusResponse(400, "BadRequest", "fieldSelector names " + n + " but the URL names " + name);
    filter.name = n;
  }
  if (auto it = query.find("labelSelector"); it != query.end()) {
    auto sel = LabelSelector::Parse(it->second);
    if (!sel.ok()) return StatusResponse(400, "BadRequest", sel.status().message());
    filter.labels = std::move(*sel);
  }
  double timeout_s = 0;
  if (auto it = query.find("timeoutSeconds"); it != query.end()) {
    try {
      timeout_s = std::stod(it->second);
    } catch (...) {
      return StatusResponse(400, "BadRequest", "timeoutSeconds must be a number");
    }
  }
  auto rv = query.find("resourceVersion");
  auto opened = watch_->Watch(std::move(filter), rv == query.end() ? "" : rv->second);
  if (!opened.ok()) {
    switch (opened.status().code()) {
      case Status::Code::kFailedPrecondition:
        return StatusResponse(410, "Expired", opened.status().message());
      case Status::Code::kUnavailable:
        return StatusResponse(429, "TooManyRequests", opened.status().message());
      default:
        return StatusResponse(400, "BadRequest", opened.status().message());
    }
  }
  using SteadyClock = std::chrono::steady_clock;
  struct State {
    std::unique_ptr<Watcher> watcher;
    SteadyClock::time_point last_sent = SteadyClock::now();
    SteadyClock::time_point end = SteadyClock::time_point::max();
    bool done = false;
  };
  auto st = std::make_shared<State>();
  st->watcher = std::move(*opened);
  if (timeout_s > 0) st->end = SteadyClock::now() + std::chrono::milliseconds(static_cast<int64_t>(timeout_s * 1000));
  const auto bookmark = std::chrono::milliseconds(static_cast<int64_t>(bookmark_s_ * 1000));
  HttpResponse resp{200, "application/json", ""};
  resp.stream = [st, bookmark](std::string* chunk, bool gone) {
    if (gone || st->done) {
      st->watcher.reset();  // frees the watch slot now, not when the connection object goes
      return false;
    }
    const auto now = SteadyClock::now();
    if (now >= st->end) {
      st->watcher.reset();
      return false;
    }
    // Short waits: a stopping server or a departed client is noticed within one.
    if (!st->watcher->Next(chunk, std::chrono::milliseconds(250))) st->done = true;
    if (chunk->empty() && SteadyClock::now() - st->last_sent >= bookmark) *chunk = st->watcher->Bookmark();
    if (!chunk->empty()) st->last_sent = SteadyClock::now();
    return true;
  };
  return resp;
}

HttpResponse ApiServer::Write(const HttpRequest& req, const std::string& kind, const std::string& name, bool create,
                              bool dry_run) {
  std::vector<Diagnostic> diags;
  auto obj = ObjectFromText(req.body, "request body", &diags);
  if (!obj.ok()) return InvalidBody(kind, diags);
  if (KindOf(*obj) != kind || (!create && MetaOf(*obj).name != name))
    return StatusResponse(400, "Invalid",
                          "the body is " + KindOf(*obj) + "/" + MetaOf(*obj).name + " but the URL names " + kind + "/" +
                              (create ? "" : name));
  const std::string& oname = MetaOf(*obj).name;
  auto existing = store_->Get(kind, oname);
  if (create && existing.ok()) return StatusResponse(409, "AlreadyExists", kind + " \"" + oname + "\" already exists");
  if (dry_run) {
    // What the store would check, without writing.
    const auto& rv = MetaOf(*obj).resource_version;
    if (existing.ok()) {
      const ObjectMeta& old = MetaOf(*existing);
      if (rv && rv != old.resource_version)
        return StatusResponse(409, "Conflict",
                              kind + " \"" + oname + "\" was modified: resourceVersion " + *rv + " is stale (current " +
                                  old.resource_version.value_or("") + ")");
      if (old.deletion_timestamp) return StatusResponse(409, "Conflict", kind + " \"" + oname + "\" is being deleted");
    } else if (rv) {
      return StatusResponse(404, "NotFound",
                            kind + " \"" + oname + "\" does not exist, so resourceVersion cannot match");
    }
    return HttpResponse{existing.ok() ? 200 : 201, "application/json", ObjectToJson(*obj) + "\n"};
  }
  // Objects a manifest file owns: 409 unless ?force=true takes them over (manifest_ownership.h).
  std::string note;
  if (auto s = ClaimForApiWrite(existing.ok() ? &*existing : nullptr, &*obj, ForceRequested(req.query), &note); !s.ok())
    return FromStatus(s);
  auto put = store_->Put(std::move(*obj));
  if (!put.ok()) return FromStatus(put.status());
  HttpResponse resp{existing.ok() ? 200 : 201, "application/json", ObjectToJson(*put) + "\n"};
  if (!note.empty()) resp.headers.emplace_back("Warning", "299 - \"" + note + "\"");
  return resp;
}

HttpResponse ApiServer::Patch(const HttpRequest& req, const std::string& kind, const std::string& name, bool dry_run) {
  std::string ct = req.content_type.substr(0, req.content_type.find(';'));
  while (!ct.empty() && ct.back() == ' ') ct.pop_back();
  if (ct != "application/merge-patch+json")
    return StatusResponse(
        415, "UnsupportedMediaType",
        "PATCH takes Content-Type application/merge-patch+json (RFC 7386), not \"" + req.content_type + "\"");
  auto docs = ParseYamlStream(req.body);
  if (docs.size() != 1 || !docs[0].error.ok() || !docs[0].root.is_map())
    return StatusResponse(400, "BadRequest", "the merge patch must be one JSON object");
  auto got = store_->Get(kind, name);
  if (!got.ok()) return FromStatus(got.status());
  Value merged = MergePatch(EncodeObject(*got), docs[0].root);
  std::vector<Diagnostic> diags;
  auto obj = ObjectFromText(ToJson(merged), "patched object", &diags);
  if (!obj.ok()) return InvalidBody(kind, diags);
  if (KindOf(*obj) != kind || MetaOf(*obj).name != name)
    return StatusResponse(400, "Invalid", "a patch cannot change the kind or name");
  std::string note;
  if (auto s = ClaimForApiWrite(&*got, &*obj, ForceRequested(req.query), &note); !s.ok()) return FromStatus(s);
  if (dry_run) return HttpResponse{200, "application/json", ObjectToJson(*obj) + "\n"};
  // The patched object carries the resourceVersion it was made from: a write in between is a 409.
  auto put = store_->Put(std::move(*obj));
  if (!put.ok()) return FromStatus(put.status());
  HttpResponse resp{200, "application/json", ObjectToJson(*put) + "\n"};
  if (!note.empty()) resp.headers.emplace_back("Warning", "299 - \"" + note + "\"");
  return resp;
}

}  // namespace jb
