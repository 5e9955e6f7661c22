// The daemon's choice of Store (--store): "" or "file:DIR" = FileStore (the default; "" uses the
// state directory), "etcd:URL[,URL...][?prefix=P&cacert=F&cert=F&key=F&timeout-ms=N]" = EtcdStore
// (store/etcd/etcd_store.h). Also `jellybeand migrate --from SPEC --to SPEC`: copies every object
// with its status, generation, finalizers and deletionTimestamp (resourceVersions are the
// destination's) into a destination that holds none of them.
// Thread-safety: reentrant functions.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "reconciler/store.h"

namespace jb {

struct OpenedStore {
  std::unique_ptr<Store> store;
  std::vector<std::string> problems;  // files the file store skipped (see FileStore::Load)
  std::string description;            // "file store DIR" / "etcd store URLs prefix P", for logs
  // Writes an object as it is (migrate); kAlreadyExists when the destination has it.
  std::function<StatusOr<Object>(Object)> import;
};

// `spec` as above; `state_dir` is the file store's directory when spec is "".
StatusOr<OpenedStore> OpenStoreBackend(const std::string& spec, const std::string& state_dir);

// Calls `fn` (on the store's watch thread) after each status write another replica made, which the
// store's OnChange need not report: how a follower's REST watch cache sees the leader's status
// updates. An empty Subscription for a store without other replicas (the file store).
[[nodiscard]] Subscription OnOtherReplicasStatusWrites(Store& store, std::function<void()> fn);

// The fencing term (drivers/fencing.h) of a daemon that is not elected (file store): a counter in
// STATE_DIR/term, raised and written back at every start, so that it grows across restarts.
StatusOr<int64_t> NextLocalTerm(const std::string& state_dir);

// `jellybeand migrate` (args after "migrate"): prints one line per object moved and a summary to
// `out`; 0 on success, 1 when something failed (each named on `err`), 2 on bad arguments.
int RunMigrate(const std::vector<std::string>& args, std::ostream& out, std::ostream& err);

}  // namespace jb
