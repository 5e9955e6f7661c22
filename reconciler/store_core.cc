#include "reconciler/store_core.h"

#include <algorithm>
#include <cstdio>
#include <random>

#include "api/manifest.h"
#include "api/names.h"

namespace jb {

StoreCore::StoreCore(std::unique_ptr<StorePersistence> persistence) : persistence_(std::move(persistence)) {}

void StoreCore::Restore(std::map<Key, Object> objects, uint64_t version, std::string refusal) {
  MutexLock lock(&mu_);
  objects_ = std::move(objects);
  version_ = version;
  // The next write reserves a fresh block above everything seen.
  reserved_ = version;
  refusal_ = std::move(refusal);
}

StatusOr<std::string> StoreCore::NextVersion() {
  if (!refusal_.empty()) return Status::Unavailable(refusal_);
  if (persistence_ && version_ >= reserved_) {
    const uint64_t upto = version_ + kVersionBlock;
    if (auto s = persistence_->ReserveVersions(upto); !s.ok())
      return Status::Unavailable("cannot reserve resourceVersions: " + s.message());
    reserved_ = upto;
  }
  return std::to_string(++version_);
}

Status CheckReadsBack(const std::string& text, const std::string& where) {
  std::vector<Diagnostic> diagnostics;
  if (auto back = ObjectFromText(text, where, &diagnostics); !back.ok())
    return Status::InvalidArgument("the object could not be read back once stored: " +
                                   (diagnostics.empty() ? back.status().message() : diagnostics.front().ToString()));
  return Status::Ok();
}

Status StoreCore::Write(const Object& obj) {
  if (persistence_) return persistence_->Write(obj);
  if (skip_read_back_) return Status::Ok();
  return CheckReadsBack(ObjectToJson(obj), "memory:" + KindOf(obj) + "/" + MetaOf(obj).name);
}

Status StoreCore::Erase(const std::string& kind, const std::string& name) {
  return persistence_ ? persistence_->Erase(kind, name) : Status::Ok();
}

StatusOr<Object> StoreCore::Get(const std::string& kind, const std::string& name) const {
  MutexLock lock(&mu_);
  auto it = objects_.find({kind, name});
  if (it == objects_.end()) return Status::NotFound(kind + " \"" + name + "\" not found");
  return it->second;
}

std::vector<Object> StoreCore::List(const std::string& kind) const {
  MutexLock lock(&mu_);
  std::vector<Object> out;
  for (const auto& [key, obj] : objects_)
    if (key.first == kind) out.push_back(obj);
  return out;
}

size_t StoreCore::size() const {
  MutexLock lock(&mu_);
  return objects_.size();
}

namespace {

bool SpecEqual(const Object& a, const Object& b) {
  return std::visit(
      [&](const auto& x) {
        using T = std::decay_t<decltype(x)>;
        const T* y = std::get_if<T>(&b);
        return y != nullptr && x.spec == y->spec;
      },
      a);
}

}  // namespace

std::string NewUid() {
  thread_local std::mt19937_64 gen{(uint64_t{std::random_device{}()} << 32) ^ std::random_device{}()};
  uint64_t hi = gen(), lo = gen();
  hi = (hi & ~uint64_t{0xF000}) | 0x4000;                      // version 4
  lo = (lo & ~(uint64_t{0xC} << 60)) | (uint64_t{0x8} << 60);  // variant 10xx
  char buf[37];
  std::snprintf(buf, sizeof(buf), "%08x-%04x-%04x-%04x-%012llx", static_cast<unsigned>(hi >> 32),
                static_cast<unsigned>((hi >> 16) & 0xFFFF), static_cast<unsigned>(hi & 0xFFFF),
                static_cast<unsigned>(lo >> 48), static_cast<unsigned long long>(lo & 0xFFFFFFFFFFFFull));
  return buf;
}

StatusOr<bool> PrepareSpecWrite(Object* obj_ptr, const Object* stored) {
  Object& obj = *obj_ptr;
  const std::string kind = KindOf(obj), name = MetaOf(obj).name;
  // The decoder checks names too; the store checks again because it must never acknowledge an
  // object it could not load back (a dotfile, a path with '/').
  if (std::string why = IsDns1123Subdomain(name); !why.empty())
    return Status::InvalidArgument(kind + " name \"" + name + "\" is not a valid name: it " + why);
  ObjectMeta& meta = MetaOf(obj);
  if (stored != nullptr) {
    const ObjectMeta& old = MetaOf(*stored);
    if (meta.resource_version && meta.resource_version != old.resource_version)
      return Status::Conflict(kind + " \"" + name + "\" was modified: resourceVersion " + *meta.resource_version +
                              " is stale (current " + old.resource_version.value_or("") + ")");
    if (old.deletion_timestamp) return Status::Conflict(kind + " \"" + name + "\" is being deleted");
    // A no-op apply (same spec and labels) changes nothing: no new resourceVersion, no write, no
    // notification, so nothing re-plans and no event follows.
    if (SpecEqual(obj, *stored) && meta.labels == old.labels && meta.annotations == old.annotations) return false;
    meta.generation = old.generation.value_or(1) + (SpecEqual(obj, *stored) ? 0 : 1);
    meta.finalizers = old.finalizers;
    // Identity stays what create gave it (objects stored before uids existed get one now).
    meta.uid = old.uid ? old.uid : NewUid();
    meta.creation_timestamp = old.creation_timestamp;
    // Status belongs to the controller: keep it.
    if (auto* wf = std::get_if<Workflow>(&obj)) wf->status = std::get<Workflow>(*stored).status;
    if (auto* mp = std::get_if<ModelProfile>(&obj)) mp->status = std::get<ModelProfile>(*stored).status;
  } else {
    if (meta.resource_version)
      return Status::NotFound(kind + " \"" + name + "\" does not exist, so resourceVersion cannot match");
    meta.generation = 1;
    meta.finalizers.clear();
    meta.uid = NewUid();
    meta.creation_timestamp = NowRfc3339();
    if (auto* mp = std::get_if<ModelProfile>(&obj)) mp->status = ModelProfileStatus{};
    if (auto* wf = std::get_if<Workflow>(&obj)) {
      wf->status = WorkflowStatus{};
      meta.finalizers.push_back(kWorkersFinalizer);
    }
  }
  meta.deletion_timestamp.reset();
  return true;
}

StatusOr<Object> StoreCore::Put(Object obj) {
  const std::string kind = KindOf(obj), name = MetaOf(obj).name;
  Object stored;
  {
    MutexLock lock(&mu_);
    auto it = objects_.find({kind, name});
    auto changed = PrepareSpecWrite(&obj, it == objects_.end() ? nullptr : &it->second);
    if (!changed.ok()) return changed.status();
    if (!*changed) return it->second;
    ObjectMeta& meta = MetaOf(obj);
    auto rv = NextVersion();
    if (!rv.ok()) return rv.status();
    meta.resource_version = *rv;
    if (auto s = Write(obj); !s.ok()) return s;
    objects_[{kind, name}] = obj;
    stored = obj;
  }
  notifier_.Notify(kind, name);
  return stored;
}

StatusOr<Object> StoreCore::PutStatus(const std::string& name, const WorkflowStatus& status, const std::string& rv) {
  Object stored;
  {
    MutexLock lock(&mu_);
    auto it = objects_.find({"Workflow", name});
    if (it == objects_.end()) return Status::NotFound("Workflow \"" + name + "\" not found");
    Workflow wf = std::get<Workflow>(it->second);
    if (!rv.empty() && wf.metadata.resource_version != rv)
      return Status::Conflict("Workflow \"" + name + "\" was modified while reconciling");
    if (wf.status == status) return it->second;  // nothing to write
    wf.status = status;
    auto next = NextVersion();
    if (!next.ok()) return next.status();
    wf.metadata.resource_version = *next;
    if (auto s = Write(wf); !s.ok()) return s;
    it->second = wf;
    stored = wf;
  }
  return stored;  // status writes do not notify: the reconciler wrote them
}

StatusOr<Object> StoreCore::PutProfileStatus(const std::string& name, const ModelProfileStatus& status,
                                             const std::string& rv) {
  MutexLock lock(&mu_);
  auto it = objects_.find({"ModelProfile", name});
  if (it == objects_.end()) return Status::NotFound("ModelProfile \"" + name + "\" not found");
  ModelProfile mp = std::get<ModelProfile>(it->second);
  if (!rv.empty() && mp.metadata.resource_version != rv)
    return Status::Conflict("ModelProfile \"" + name + "\" was modified while its status was written");
  if (mp.status == status) return it->second;  // nothing to write
  // The resourceVersion stays (see Store::PutProfileStatus).
  mp.status = status;
  if (auto s = Write(mp); !s.ok()) return s;
  it->second = mp;
  return it->second;  // status writes do not notify: the reconciler wrote them
}

StatusOr<Object> StoreCore::Delete(const std::string& kind, const std::string& name) {
  Object result;
  {
    MutexLock lock(&mu_);
    auto it = objects_.find({kind, name});
    if (it == objects_.end()) return Status::NotFound(kind + " \"" + name + "\" not found");
    ObjectMeta& meta = MetaOf(it->second);
    if (!meta.finalizers.empty()) {
      if (!meta.deletion_timestamp) {
        Object marked = it->second;
        MetaOf(marked).deletion_timestamp = NowRfc3339();
        auto rv = NextVersion();
        if (!rv.ok()) return rv.status();
        MetaOf(marked).resource_version = *rv;
        if (auto s = Write(marked); !s.ok()) return s;
        it->second = marked;
      }
      result = it->second;
    } else {
      if (auto s = Erase(kind, name); !s.ok()) return s;
      result = it->second;
      objects_.erase(it);
    }
  }
  notifier_.Notify(kind, name);
  return result;
}

Status StoreCore::RemoveFinalizer(const std::string& kind, const std::string& name, const std::string& finalizer) {
  {
    MutexLock lock(&mu_);
    auto it = objects_.find({kind, name});
    if (it == objects_.end()) return Status::Ok();
    Object obj = it->second;
    auto& f = MetaOf(obj).finalizers;
    f.erase(std::remove(f.begin(), f.end(), finalizer), f.end());
    if (f.empty() && MetaOf(obj).deletion_timestamp) {
      if (auto s = Erase(kind, name); !s.ok()) return s;
      objects_.erase(it);
    } else {
      auto rv = NextVersion();
      if (!rv.ok()) return rv.status();
      MetaOf(obj).resource_version = *rv;
      if (auto s = Write(obj); !s.ok()) return s;
      it->second = obj;
    }
  }
  notifier_.Notify(kind, name);
  return Status::Ok();
}

StatusOr<Object> StoreCore::Import(Object obj) {
  const std::string kind = KindOf(obj), name = MetaOf(obj).name;
  {
    MutexLock lock(&mu_);
    if (objects_.count({kind, name}) > 0) return Status::AlreadyExists(kind + " \"" + name + "\" already exists");
    auto rv = NextVersion();
    if (!rv.ok()) return rv.status();
    MetaOf(obj).resource_version = *rv;
    if (auto s = Write(obj); !s.ok()) return s;
    objects_[{kind, name}] = obj;
  }
  notifier_.Notify(kind, name);
  return obj;
}

Subscription StoreCore::OnChange(ChangeCallback fn) { return notifier_.Subscribe(std::move(fn)); }

}  // namespace jb
