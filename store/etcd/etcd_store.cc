#include "store/etcd/etcd_store.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <map>

#include "api/manifest.h"
#include "api/names.h"
#include "base/rfc3339.h"
#include "reconciler/store_core.h"

namespace jb {

namespace {

using etcd::Compare;
using etcd::Op;

// Attempts of an unconditional write that keeps losing its compare to other writers.
constexpr int kMaxAttempts = 100;
const char* const kKinds[] = {"Workflow", "ModelProfile", "Infrastructure"};

StatusOr<Object> Decode(const etcd::KeyValue& kv) {
  std::vector<Diagnostic> diagnostics;
  auto obj = ObjectFromText(kv.value, kv.key, &diagnostics);
  if (!obj.ok())
    return Status::Internal("etcd key " + kv.key + " holds no readable object: " +
                            (diagnostics.empty() ? obj.status().message() : diagnostics.front().ToString()));
  MetaOf(*obj).resource_version = std::to_string(kv.mod_revision);
  return obj;
}

// The object as stored in etcd: no resourceVersion (the key's mod revision is), and a
// ModelProfile's status lives under its own key.
Object ForValue(Object obj) {
  MetaOf(obj).resource_version.reset();
  if (auto* mp = std::get_if<ModelProfile>(&obj)) mp->status = ModelProfileStatus{};
  return obj;
}

// Whether two stored values differ only in the Workflow status (a write nobody must hear of).
bool OnlyStatusDiffers(const etcd::KeyValue& before, const etcd::KeyValue& after) {
  auto a = Decode(before), b = Decode(after);
  if (!a.ok() || !b.ok()) return false;
  for (Object* o : {&*a, &*b}) {
    MetaOf(*o).resource_version.reset();
    if (auto* wf = std::get_if<Workflow>(o)) wf->status = WorkflowStatus{};
  }
  return ObjectToJson(*a) == ObjectToJson(*b);
}

}  // namespace

EtcdStore::EtcdStore(std::unique_ptr<etcd::EtcdClient> client)
    : client_(std::move(client)),
      objects_prefix_(client_->options().prefix + "objects/"),
      status_prefix_(client_->options().prefix + "profile-status/") {}

StatusOr<std::unique_ptr<EtcdStore>> EtcdStore::Open(const etcd::EtcdOptions& options) {
  auto client = etcd::EtcdClient::Connect(options);
  if (!client.ok()) return client.status();
  return Open(std::move(*client));
}

StatusOr<std::unique_ptr<EtcdStore>> EtcdStore::Open(std::unique_ptr<etcd::EtcdClient> client) {
  std::unique_ptr<EtcdStore> store(new EtcdStore(std::move(client)));
  auto listed = store->client_->Range(store->objects_prefix_, etcd::PrefixEnd(store->objects_prefix_));
  if (!listed.ok()) return listed.status();
  for (const auto& kv : listed->ranges.front()) store->known_keys_.insert(kv.key);
  {
    MutexLock lock(&store->mu_);
    store->revision_ = listed->revision;
  }
  store->watcher_ = std::thread([s = store.get()] { s->WatchLoop(); });
  return store;
}

EtcdStore::~EtcdStore() {
  stop_ = true;
  {
    MutexLock lock(&mu_);
    changed_.SignalAll();
  }
  if (watcher_.joinable()) watcher_.join();
}

std::string EtcdStore::ObjectKey(const std::string& kind, const std::string& name) const {
  return objects_prefix_ + kind + "/" + name;
}

std::string EtcdStore::StatusKey(const std::string& name) const {
  return client_->options().prefix + "profile-status/" + name;
}

StatusOr<std::optional<EtcdStore::Stored>> EtcdStore::Read(const std::string& kind, const std::string& name) const {
  std::vector<Op> ops{Op::Range(ObjectKey(kind, name))};
  if (kind == "ModelProfile") ops.push_back(Op::Range(StatusKey(name)));
  auto r = client_->Txn({}, ops, {});
  if (!r.ok()) return r.status();
  if (r->ranges.empty() || r->ranges[0].empty()) return std::optional<Stored>();
  const etcd::KeyValue& kv = r->ranges[0][0];
  auto obj = Decode(kv);
  if (!obj.ok()) return obj.status();
  if (r->ranges.size() > 1 && !r->ranges[1].empty()) {
    auto st = Decode(r->ranges[1][0]);
    if (st.ok() && std::holds_alternative<ModelProfile>(*st))
      std::get<ModelProfile>(*obj).status = std::get<ModelProfile>(*st).status;
  }
  return std::optional<Stored>(Stored{std::move(*obj), kv.mod_revision});
}

StatusOr<etcd::Op> EtcdStore::EncodePut(const std::string& key, const Object& obj) const {
  std::string text = ObjectToJson(obj);
  // Never acknowledge what could not be read back (as the file store).
  if (auto s = CheckReadsBack(text, key); !s.ok()) return s;
  return Op::Put(key, std::move(text));
}

StatusOr<etcd::TxnResult> EtcdStore::OwnTxn(const etcd::Compare& compare, std::vector<etcd::Op> ops) {
  {
    MutexLock lock(&mu_);
    ++inflight_;
  }
  auto r = client_->Txn({compare}, ops, {});
  {
    MutexLock lock(&mu_);
    --inflight_;
    if (r.ok() && r->succeeded) own_revisions_.insert(r->revision);
    changed_.SignalAll();
  }
  return r;
}

StatusOr<std::optional<int64_t>> EtcdStore::Write(const std::string& kind, const std::string& name, int64_t mod,
                                                  std::vector<etcd::Op> ops, bool notify) {
  const std::string key = ObjectKey(kind, name);
  Compare c{mod == 0 ? Compare::Target::kCreate : Compare::Target::kMod, key, mod};
  auto r = OwnTxn(c, std::move(ops));
  if (!r.ok()) return r.status();
  if (!r->succeeded) return std::optional<int64_t>();
  if (notify) notifier_.Notify(kind, name);
  return std::optional<int64_t>(r->revision);
}

StatusOr<Object> EtcdStore::Get(const std::string& kind, const std::string& name) const {
  auto r = Read(kind, name);
  if (!r.ok()) return r.status();
  if (!*r) return Status::NotFound(kind + " \"" + name + "\" not found");
  return (*r)->obj;
}

StatusOr<Object> EtcdStore::DecodeCached(const etcd::KeyValue& kv) const {
  {
    MutexLock lock(&cache_mu_);
    if (auto it = decoded_.find(kv.key); it != decoded_.end() && it->second.first == kv.mod_revision)
      return it->second.second;
  }
  auto obj = Decode(kv);
  if (!obj.ok()) return obj;
  MutexLock lock(&cache_mu_);
  decoded_[kv.key] = {kv.mod_revision, *obj};
  return obj;
}

void EtcdStore::PruneDecoded(const std::string& prefix, const std::set<std::string>& present) const {
  MutexLock lock(&cache_mu_);
  for (auto it = decoded_.lower_bound(prefix); it != decoded_.end() && it->first.rfind(prefix, 0) == 0;)
    it = present.count(it->first) != 0 ? std::next(it) : decoded_.erase(it);
}

StatusOr<std::vector<Object>> EtcdStore::ListChecked(const std::string& kind) const {
  const std::string prefix = objects_prefix_ + kind + "/";
  std::vector<Op> ops{Op::Range(prefix, etcd::PrefixEnd(prefix))};
  const std::string status_prefix = client_->options().prefix + "profile-status/";
  if (kind == "ModelProfile") ops.push_back(Op::Range(status_prefix, etcd::PrefixEnd(status_prefix)));
  auto r = client_->Txn({}, ops, {});
  if (!r.ok()) return r.status();
  std::map<std::string, ModelProfileStatus> statuses;
  std::set<std::string> present;
  if (r->ranges.size() > 1) {
    for (const auto& kv : r->ranges[1]) {
      present.insert(kv.key);
      if (auto st = DecodeCached(kv); st.ok() && std::holds_alternative<ModelProfile>(*st))
        statuses[kv.key.substr(status_prefix.size())] = std::get<ModelProfile>(*st).status;
    }
    PruneDecoded(status_prefix, present);
  }
  present.clear();
  for (const auto& kv : r->ranges[0]) present.insert(kv.key);
  PruneDecoded(prefix, present);
  std::vector<Object> out;
  for (const auto& kv : r->ranges[0]) {
    auto obj = DecodeCached(kv);
    if (!obj.ok()) {
      spdlog::error("state: {}", obj.status().message());
      continue;
    }
    if (auto* mp = std::get_if<ModelProfile>(&*obj))
      if (auto it = statuses.find(mp->metadata.name); it != statuses.end()) mp->status = it->second;
    out.push_back(std::move(*obj));
  }
  return out;
}

std::vector<Object> EtcdStore::List(const std::string& kind) const {
  auto r = ListChecked(kind);
  if (!r.ok()) {
    spdlog::warn("state: cannot list {}s: {}", kind, r.status().message());
    return {};
  }
  return std::move(*r);
}

size_t EtcdStore::size() const {
  auto r = client_->Range(objects_prefix_, etcd::PrefixEnd(objects_prefix_));
  return r.ok() ? r->ranges.front().size() : 0;
}

StatusOr<Object> EtcdStore::Put(Object obj) {
  const std::string kind = KindOf(obj), name = MetaOf(obj).name;
  for (int attempt = 0; attempt < kMaxAttempts; ++attempt) {
    Object next = obj;
    std::optional<Stored> cur;
    if (IsDns1123Subdomain(name).empty()) {  // a bad name is refused below without a read
      auto read = Read(kind, name);
      if (!read.ok()) return read.status();
      cur = std::move(*read);
    }
    auto changed = PrepareSpecWrite(&next, cur ? &cur->obj : nullptr);
    if (!changed.ok()) return changed.status();
    if (!*changed) return cur->obj;
    auto put = EncodePut(ObjectKey(kind, name), ForValue(next));
    if (!put.ok()) return put.status();
    std::vector<Op> ops{*put};
    if (!cur && kind == "ModelProfile") ops.push_back(Op::Delete(StatusKey(name)));
    auto w = Write(kind, name, cur ? cur->mod : 0, std::move(ops), true);
    if (!w.ok()) return w.status();
    if (!*w) continue;  // lost to another writer: re-read (a stale resourceVersion is refused then)
    MetaOf(next).resource_version = std::to_string(**w);
    return next;
  }
  return Status::Unavailable(kind + " \"" + name + "\": too many concurrent writers, try again");
}

StatusOr<Object> EtcdStore::PutStatus(const std::string& name, const WorkflowStatus& status, const std::string& rv) {
  for (int attempt = 0; attempt < kMaxAttempts; ++attempt) {
    auto cur = Read("Workflow", name);
    if (!cur.ok()) return cur.status();
    if (!*cur) return Status::NotFound("Workflow \"" + name + "\" not found");
    Workflow wf = std::get<Workflow>((*cur)->obj);
    if (!rv.empty() && wf.metadata.resource_version != rv)
      return Status::Conflict("Workflow \"" + name + "\" was modified while reconciling");
    if (wf.status == status) return (*cur)->obj;
    wf.status = status;
    auto put = EncodePut(ObjectKey("Workflow", name), ForValue(wf));
    if (!put.ok()) return put.status();
    auto w = Write("Workflow", name, (*cur)->mod, {*put}, false);
    if (!w.ok()) return w.status();
    if (!*w) continue;
    wf.metadata.resource_version = std::to_string(**w);
    return Object(wf);
  }
  return Status::Unavailable("Workflow \"" + name + "\": too many concurrent writers, try again");
}

StatusOr<Object> EtcdStore::PutProfileStatus(const std::string& name, const ModelProfileStatus& status,
                                             const std::string& rv) {
  for (int attempt = 0; attempt < kMaxAttempts; ++attempt) {
    auto cur = Read("ModelProfile", name);
    if (!cur.ok()) return cur.status();
    if (!*cur) return Status::NotFound("ModelProfile \"" + name + "\" not found");
    ModelProfile mp = std::get<ModelProfile>((*cur)->obj);
    if (!rv.empty() && mp.metadata.resource_version != rv)
      return Status::Conflict("ModelProfile \"" + name + "\" was modified while its status was written");
    if (mp.status == status) return (*cur)->obj;
    mp.status = status;
    ModelProfile value = mp;
    value.metadata.resource_version.reset();
    // Not Write: the object key is only compared, so its mod revision (resourceVersion) stays.
    auto r = OwnTxn({Compare::Target::kMod, ObjectKey("ModelProfile", name), (*cur)->mod},
                    {Op::Put(StatusKey(name), ObjectToJson(value))});
    if (!r.ok()) return r.status();
    if (!r->succeeded) continue;
    return Object(mp);
  }
  return Status::Unavailable("ModelProfile \"" + name + "\": too many concurrent writers, try again");
}

StatusOr<Object> EtcdStore::Delete(const std::string& kind, const std::string& name) {
  for (int attempt = 0; attempt < kMaxAttempts; ++attempt) {
    auto cur = Read(kind, name);
    if (!cur.ok()) return cur.status();
    if (!*cur) return Status::NotFound(kind + " \"" + name + "\" not found");
    Object obj = (*cur)->obj;
    ObjectMeta& meta = MetaOf(obj);
    if (!meta.finalizers.empty() && meta.deletion_timestamp) {
      notifier_.Notify(kind, name);  // as the file store: a repeated delete notifies too
      return obj;
    }
    std::vector<Op> ops;
    if (!meta.finalizers.empty()) {
      meta.deletion_timestamp = NowRfc3339();
      auto put = EncodePut(ObjectKey(kind, name), ForValue(obj));
      if (!put.ok()) return put.status();
      ops.push_back(*put);
    } else {
      ops.push_back(Op::Delete(ObjectKey(kind, name)));
      if (kind == "ModelProfile") ops.push_back(Op::Delete(StatusKey(name)));
    }
    auto w = Write(kind, name, (*cur)->mod, std::move(ops), true);
    if (!w.ok()) return w.status();
    if (!*w) continue;
    if (!meta.finalizers.empty()) meta.resource_version = std::to_string(**w);
    return obj;
  }
  return Status::Unavailable(kind + " \"" + name + "\": too many concurrent writers, try again");
}

Status EtcdStore::RemoveFinalizer(const std::string& kind, const std::string& name, const std::string& finalizer) {
  for (int attempt = 0; attempt < kMaxAttempts; ++attempt) {
    auto cur = Read(kind, name);
    if (!cur.ok()) return cur.status();
    if (!*cur) return Status::Ok();
    Object obj = (*cur)->obj;
    auto& f = MetaOf(obj).finalizers;
    f.erase(std::remove(f.begin(), f.end(), finalizer), f.end());
    std::vector<Op> ops;
    if (f.empty() && MetaOf(obj).deletion_timestamp) {
      ops.push_back(Op::Delete(ObjectKey(kind, name)));
      if (kind == "ModelProfile") ops.push_back(Op::Delete(StatusKey(name)));
    } else {
      auto put = EncodePut(ObjectKey(kind, name), ForValue(obj));
      if (!put.ok()) return put.status();
      ops.push_back(*put);
    }
    auto w = Write(kind, name, (*cur)->mod, std::move(ops), true);
    if (!w.ok()) return w.status();
    if (*w) return Status::Ok();
  }
  return Status::Unavailable(kind + " \"" + name + "\": too many concurrent writers, try again");
}

StatusOr<Object> EtcdStore::Import(Object obj) {
  const std::string kind = KindOf(obj), name = MetaOf(obj).name;
  auto put = EncodePut(ObjectKey(kind, name), ForValue(obj));
  if (!put.ok()) return put.status();
  std::vector<Op> ops{*put};
  if (auto* mp = std::get_if<ModelProfile>(&obj)) {
    ModelProfile value = *mp;
    value.metadata.resource_version.reset();
    ops.push_back(Op::Put(StatusKey(name), ObjectToJson(value)));
  }
  auto w = Write(kind, name, 0, std::move(ops), true);
  if (!w.ok()) return w.status();
  if (!*w) return Status::AlreadyExists(kind + " \"" + name + "\" already exists in etcd");
  MetaOf(obj).resource_version = std::to_string(**w);
  return obj;
}

Subscription EtcdStore::OnChange(ChangeCallback fn) { return notifier_.Subscribe(std::move(fn)); }

Subscription EtcdStore::OnOthersStatusWrite(ChangeCallback fn) { return status_notifier_.Subscribe(std::move(fn)); }

int64_t EtcdStore::watched_revision() const {
  MutexLock lock(&mu_);
  return revision_;
}

int EtcdStore::relists() const {
  MutexLock lock(&mu_);
  return relists_;
}

// The watch thread: other replicas' writes become change notifications.

namespace {

template <typename T>
void AddOnce(std::vector<T>* v, T item) {
  if (std::find(v->begin(), v->end(), item) == v->end()) v->push_back(std::move(item));
}

// "PREFIX objects/<Kind>/<name>" → (kind, name); false for any other key.
bool SplitKey(const std::string& key, const std::string& objects_prefix, std::string* kind, std::string* name) {
  if (key.rfind(objects_prefix, 0) != 0) return false;
  std::string rest = key.substr(objects_prefix.size());
  size_t slash = rest.find('/');
  if (slash == std::string::npos) return false;
  *kind = rest.substr(0, slash);
  *name = rest.substr(slash + 1);
  return true;
}

}  // namespace

void EtcdStore::WatchLoop() {
  auto backoff = std::chrono::milliseconds(100);
  while (!stop_) {
    int64_t from;
    {
      MutexLock lock(&mu_);
      from = revision_ + 1;
    }
    int64_t compact = 0;
    // The whole prefix: the objects and the ModelProfiles' status keys beside them (a watch of
    // objects/ alone never heard another replica's profile status writes).
    const std::string& prefix = client_->options().prefix;
    Status s = client_->Watch(
        prefix, etcd::PrefixEnd(prefix), from,
        [this](const std::vector<etcd::WatchEvent>& events, int64_t revision) { OnEvents(events, revision); }, stop_,
        &compact);
    if (stop_) break;
    if (s.code() == Status::Code::kFailedPrecondition) {
      spdlog::warn("etcd store: {}; re-listing", s.message());
      s = Relist();
      if (s.ok()) {
        backoff = std::chrono::milliseconds(100);
        continue;
      }
    }
    bool progressed;
    {
      MutexLock lock(&mu_);
      progressed = revision_ >= from;
    }
    if (progressed) backoff = std::chrono::milliseconds(100);
    spdlog::warn("etcd store: watch ended ({}); resuming from revision {} in {} ms", s.message(), from,
                 backoff.count());
    MutexLock lock(&mu_);
    changed_.WaitFor(&mu_, backoff, [this] { return stop_.load(); });
    backoff = std::min(backoff * 2, std::chrono::milliseconds(1000));
  }
}

bool EtcdStore::IsOwnWrite(int64_t revision) {
  MutexLock lock(&mu_);
  // A write of this process may have been applied but not yet registered: wait for it (bounded
  // by the request timeout, after which its txn call has returned).
  const auto deadline = std::chrono::steady_clock::now() + client_->options().request_timeout;
  while (inflight_ > 0 && own_revisions_.count(revision) == 0 && !stop_)
    if (!changed_.WaitUntil(&mu_, deadline)) break;
  return own_revisions_.erase(revision) > 0;
}

void EtcdStore::OnEvents(const std::vector<etcd::WatchEvent>& events, int64_t revision) {
  std::vector<std::pair<std::string, std::string>> changes, status_changes;  // (kind, name)
  std::set<int64_t> object_revisions;  // a status key written with its object is that object's change
  for (const auto& e : events)
    if (e.kv.key.rfind(objects_prefix_, 0) == 0) object_revisions.insert(e.kv.mod_revision);
  int64_t seen = 0;
  for (const auto& e : events) {
    seen = std::max(seen, e.kv.mod_revision);
    std::string kind, name;
    if (!SplitKey(e.kv.key, objects_prefix_, &kind, &name)) {
      // A ModelProfile's status key, written by another replica: a status write.
      if (!e.is_delete && e.kv.key.rfind(status_prefix_, 0) == 0 && object_revisions.count(e.kv.mod_revision) == 0 &&
          !IsOwnWrite(e.kv.mod_revision))
        AddOnce(&status_changes, std::make_pair(std::string("ModelProfile"), e.kv.key.substr(status_prefix_.size())));
      continue;
    }
    if (e.is_delete)
      known_keys_.erase(e.kv.key);
    else
      known_keys_.insert(e.kv.key);
    if (IsOwnWrite(e.kv.mod_revision)) continue;  // notified on the writer's thread
    if (!e.is_delete && e.has_prev && OnlyStatusDiffers(e.prev_kv, e.kv)) {
      AddOnce(&status_changes, std::make_pair(kind, name));
      continue;
    }
    AddOnce(&changes, std::make_pair(kind, name));
  }
  {
    MutexLock lock(&mu_);
    // A batch without events is a progress notification: everything up to `revision` was sent.
    revision_ = std::max(revision_, events.empty() ? revision : seen);
  }
  for (const auto& [kind, name] : changes) notifier_.Notify(kind, name);
  for (const auto& [kind, name] : status_changes) status_notifier_.Notify(kind, name);
}

Status EtcdStore::Relist() {
  auto listed = client_->Range(objects_prefix_, etcd::PrefixEnd(objects_prefix_));
  if (!listed.ok()) return listed.status();
  std::set<std::string> keys;
  for (const auto& kv : listed->ranges.front()) keys.insert(kv.key);
  std::set<std::string> all = keys;
  all.insert(known_keys_.begin(), known_keys_.end());
  known_keys_ = std::move(keys);
  {
    MutexLock lock(&mu_);
    revision_ = listed->revision;
    ++relists_;
    // Writes at or below the listed revision are covered by the re-list.
    own_revisions_.erase(own_revisions_.begin(), own_revisions_.upper_bound(listed->revision));
  }
  for (const auto& key : all) {
    std::string kind, name;
    if (SplitKey(key, objects_prefix_, &kind, &name)) notifier_.Notify(kind, name);
  }
  return Status::Ok();
}

}  // namespace jb
