#include "daemon/watch_cache.h"

#include <algorithm>

#include "api/manifest.h"

namespace jb {

namespace {

const char* const kKinds[] = {"Workflow", "ModelProfile", "Infrastructure"};

uint64_t RvOf(const Object& obj) {
  const auto& rv = MetaOf(obj).resource_version;
  if (!rv) return 0;
  try {
    return std::stoull(*rv);
  } catch (...) {
    return 0;
  }
}

std::string EventLine(const std::string& type, const Value& object) {
  Value v = Value::Map();
  v.Set("type", Value::String(type));
  v.Set("object", object);
  return ToJson(v) + "\n";
}

bool ProfileStatusChanged(const Object& a, const Object& b) {
  const auto* x = std::get_if<ModelProfile>(&a);
  const auto* y = std::get_if<ModelProfile>(&b);
  return x != nullptr && y != nullptr && !(x->status == y->status);
}

}  // namespace

bool WatchFilter::Matches(const WatchEvent& e) const {
  return e.kind == kind && (name.empty() || e.name == name) && labels.Matches(e.labels);
}

WatchCache::WatchCache(Store* store, WatchCacheOptions opts) : store_(store), opts_(opts) {
  sub_ = store_->OnChange([this](const std::string&, const std::string&) { Observe(); });
  MutexLock lock(&mu_);
  for (const char* kind : kKinds)
    for (auto& obj : store_->List(kind)) {
      uint64_t rv = RvOf(obj);
      hw_ = std::max(hw_, rv);
      // The key before the move (an assignment evaluates its right side first).
      auto key = std::make_pair(std::string(kind), MetaOf(obj).name);
      seen_[key] = Seen{rv, std::move(obj)};
    }
  oldest_ = hw_;
}

WatchCache::~WatchCache() { sub_.Reset(); }

void WatchCache::Observe() {
  MutexLock lock(&mu_);
  ScanLocked();
}

void WatchCache::ScanLocked() {
  std::vector<std::pair<std::string, Object>> changed;  // (type, object)
  std::map<std::pair<std::string, std::string>, bool> present;
  for (const char* kind : kKinds)
    for (auto& obj : store_->List(kind)) {
      auto key = std::make_pair(std::string(kind), MetaOf(obj).name);
      present[key] = true;
      auto it = seen_.find(key);
      if (it == seen_.end()) {
        changed.emplace_back("ADDED", obj);
      } else if (it->second.rv != RvOf(obj) || ProfileStatusChanged(it->second.obj, obj)) {
        changed.emplace_back("MODIFIED", obj);
      }
    }
  std::stable_sort(changed.begin(), changed.end(),
                   [](const auto& a, const auto& b) { return RvOf(a.second) < RvOf(b.second); });
  for (auto& [type, obj] : changed) {
    uint64_t rv = RvOf(obj);
    WatchEvent e;
    e.type = type;
    e.introduces = rv > hw_;
    hw_ = std::max(hw_, rv);
    e.rv = hw_;
    e.kind = KindOf(obj);
    e.name = MetaOf(obj).name;
    e.labels = MetaOf(obj).labels;
    e.line = EventLine(type, EncodeObject(obj));
    seen_[{e.kind, e.name}] = Seen{rv, std::move(obj)};
    Append(std::move(e));
  }
  // Deletions after the changes: the highest version seen so far is their position.
  for (auto it = seen_.begin(); it != seen_.end();) {
    if (present.count(it->first) != 0) {
      ++it;
      continue;
    }
    WatchEvent e;
    e.type = "DELETED";
    e.rv = hw_;
    e.kind = it->first.first;
    e.name = it->first.second;
    e.labels = MetaOf(it->second.obj).labels;
    e.line = EventLine("DELETED", EncodeObject(it->second.obj));
    it = seen_.erase(it);
    Append(std::move(e));
  }
  if (!changed.empty()) changed_.SignalAll();
}

void WatchCache::Append(WatchEvent e) {
  ring_.push_back(std::move(e));
  changed_.SignalAll();
  while (ring_.size() > opts_.history) {
    const WatchEvent& gone = ring_.front();
    // A client at gone.rv would need `gone` again when it did not introduce that version.
    oldest_ = std::max(oldest_, gone.introduces ? gone.rv : gone.rv + 1);
    ring_.pop_front();
    ++first_seq_;
  }
}

uint64_t WatchCache::version() const {
  MutexLock lock(&mu_);
  return hw_;
}

int WatchCache::watchers() const {
  MutexLock lock(&mu_);
  return watchers_;
}

StatusOr<std::unique_ptr<Watcher>> WatchCache::Watch(WatchFilter filter, const std::string& resource_version) {
  std::optional<uint64_t> from;
  if (!resource_version.empty() && resource_version != "0") {
    if (resource_version.find_first_not_of("0123456789") != std::string::npos || resource_version.size() > 19)
      return Status::InvalidArgument("resourceVersion \"" + resource_version + "\" is not a decimal number");
    from = std::stoull(resource_version);
  }
  MutexLock lock(&mu_);
  if (watchers_ >= opts_.max_watchers)
    return Status::Unavailable("too many watches (" + std::to_string(opts_.max_watchers) + " open); try again later");
  if (from && *from < oldest_)
    return Status::FailedPrecondition("too old resource version: " + std::to_string(*from) + " (" +
                                      std::to_string(oldest_) + ")");
  uint64_t seq = first_seq_ + ring_.size();
  std::string initial;
  if (from) {
    // The first retained event to send (see the header comment).
    for (size_t i = 0; i < ring_.size(); ++i) {
      const WatchEvent& e = ring_[i];
      if (e.rv > *from || (e.rv == *from && !e.introduces)) {
        seq = first_seq_ + i;
        break;
      }
    }
  } else {
    std::vector<const Seen*> objs;
    for (const auto& [key, s] : seen_)
      if (key.first == filter.kind && (filter.name.empty() || key.second == filter.name) &&
          filter.labels.Matches(MetaOf(s.obj).labels))
        objs.push_back(&s);
    std::stable_sort(objs.begin(), objs.end(), [](const Seen* a, const Seen* b) { return a->rv < b->rv; });
    for (const Seen* s : objs) initial += EventLine("ADDED", EncodeObject(s->obj));
    // The end of the initial state, at the version it reflects: a client resumes from here.
    initial += BookmarkLine(filter.kind, hw_);
  }
  ++watchers_;
  std::unique_ptr<Watcher> w(new Watcher(this, std::move(filter), seq));
  w->initial_ = std::move(initial);
  return w;
}

Watcher::~Watcher() {
  MutexLock lock(&cache_->mu_);
  --cache_->watchers_;
}

bool Watcher::Next(std::string* out, std::chrono::milliseconds wait) {
  *out += initial_;
  initial_.clear();
  WatchCache* c = cache_;
  MutexLock lock(&c->mu_);
  const auto deadline = std::chrono::steady_clock::now() + wait;
  while (true) {
    if (next_seq_ < c->first_seq_) {
      Value status = Value::Map();
      status.Set("apiVersion", Value::String("v1"));
      status.Set("kind", Value::String("Status"));
      status.Set("status", Value::String("Failure"));
      status.Set("code", Value::Integer(410));
      status.Set("reason", Value::String("Expired"));
      status.Set("message", Value::String("the watch fell behind the retained history; list again"));
      *out += EventLine("ERROR", status);
      return false;
    }
    const uint64_t end = c->first_seq_ + c->ring_.size();
    for (; next_seq_ < end; ++next_seq_) {
      const WatchEvent& e = c->ring_[next_seq_ - c->first_seq_];
      if (filter_.Matches(e)) *out += e.line;
    }
    if (!out->empty()) return true;
    if (!c->changed_.WaitUntil(&c->mu_, deadline) && std::chrono::steady_clock::now() >= deadline) return true;
  }
}

std::string Watcher::Bookmark() const { return BookmarkLine(filter_.kind, cache_->version()); }

std::string BookmarkLine(const std::string& kind, uint64_t hw) {
  Value meta = Value::Map();
  meta.Set("resourceVersion", Value::String(std::to_string(hw)));
  Value obj = Value::Map();
  obj.Set("apiVersion", Value::String(kApiVersion));
  obj.Set("kind", Value::String(kind));
  obj.Set("metadata", std::move(meta));
  return EventLine("BOOKMARK", obj);
}

StatusOr<Object> WatchedStore::PutStatus(const std::string& name, const WorkflowStatus& status,
                                         const std::string& resource_version) {
  auto r = inner_->PutStatus(name, status, resource_version);
  if (r.ok()) cache_->Observe();
  return r;
}

StatusOr<Object> WatchedStore::PutProfileStatus(const std::string& name, const ModelProfileStatus& status,
                                                const std::string& resource_version) {
  auto r = inner_->PutProfileStatus(name, status, resource_version);
  if (r.ok()) cache_->Observe();
  return r;
}

}  // namespace jb
