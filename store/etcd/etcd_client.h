// EtcdClient: the few etcd v3 calls the etcd store and leader election need (range, txn, lease,
// watch, compaction), over gRPC with etcd 3.4.23's own protos (store/etcd/proto/). This header has
// no gRPC types: only etcd_client.cc includes the generated code, so a change here rebuilds one TU.
//
// Every request carries the metadata `hasleader=true` and a deadline (EtcdOptions::request_timeout),
// so a member that lost quorum answers at once with UNAVAILABLE "etcdserver: no leader" instead of
// hanging 7 s (measured: docs/etcd.md). UNAVAILABLE answers move the client to the next endpoint; a
// range is retried there, a txn is not (its outcome may be unknown: callers compare-and-swap).
// Errors: kUnavailable "etcd: <reason>" for no leader / unreachable / timed out; kInvalidArgument
// for a refused request (e.g. a compacted revision).
// TLS: an https:// endpoint uses TLS; ca_file (default: the system roots), and cert_file + key_file
// for client-certificate auth. The key and cert files must not be readable by group or others
// (mode 0600 or stricter): Connect refuses otherwise, naming the file.
// Thread-safety: all methods are thread-safe; a watch runs on the caller's thread until stopped.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "base/status.h"

namespace jb::etcd {

struct EtcdOptions {
  std::vector<std::string> endpoints;  // "http://HOST:PORT" or "https://HOST:PORT"
  std::string prefix = "/jellybean/";  // every key the daemon writes starts with it
  std::string ca_file, cert_file, key_file;
  std::chrono::milliseconds request_timeout{2000};
};

// Parses "etcd:URL[,URL...][?prefix=P&cacert=FILE&cert=FILE&key=FILE&timeout-ms=N]" (the "etcd:"
// may be omitted). kInvalidArgument naming the part that is wrong.
StatusOr<EtcdOptions> ParseEtcdSpec(const std::string& spec);
// kInvalidArgument naming `path` when group or others may read or write it (or it cannot be read).
Status CheckCredentialFile(const std::string& path);

struct KeyValue {
  std::string key, value;
  int64_t create_revision = 0, mod_revision = 0, lease = 0;
};

// One comparison of a txn; always EQUAL. kCreate with value 0 = "the key does not exist".
struct Compare {
  enum class Target { kMod, kCreate, kLease };
  Target target = Target::kMod;
  std::string key;
  int64_t value = 0;
};

// One operation of a txn. kRange with range_end empty reads one key.
struct Op {
  enum class Kind { kPut, kDelete, kRange };
  Kind kind = Kind::kRange;
  std::string key, value, range_end;
  int64_t lease = 0;
  static Op Put(std::string key, std::string value, int64_t lease = 0) {
    return Op{Kind::kPut, std::move(key), std::move(value), "", lease};
  }
  static Op Delete(std::string key, std::string range_end = "") {
    return Op{Kind::kDelete, std::move(key), "", std::move(range_end), 0};
  }
  static Op Range(std::string key, std::string range_end = "") {
    return Op{Kind::kRange, std::move(key), "", std::move(range_end), 0};
  }
};

struct TxnResult {
  bool succeeded = false;
  int64_t revision = 0;                       // the store's revision after the txn
  std::vector<std::vector<KeyValue>> ranges;  // one entry per op of the branch taken (empty but for kRange)
};

struct WatchEvent {
  bool is_delete = false;
  KeyValue kv;  // for a delete: key and mod_revision only
  bool has_prev = false;
  KeyValue prev_kv;  // the value before the event (watches ask for it)
};

// The end of the prefix range starting at `prefix` (its last byte + 1).
std::string PrefixEnd(const std::string& prefix);

class EtcdClient {
 public:
  static StatusOr<std::unique_ptr<EtcdClient>> Connect(const EtcdOptions& options);
  virtual ~EtcdClient() = default;

  const EtcdOptions& options() const { return options_; }

  // Reads `key` (range_end empty) or [key, range_end); `revision` 0 = the newest.
  virtual StatusOr<TxnResult> Range(const std::string& key, const std::string& range_end, int64_t revision = 0) = 0;
  virtual StatusOr<TxnResult> Txn(const std::vector<Compare>& compares, const std::vector<Op>& success,
                                  const std::vector<Op>& failure) = 0;
  virtual Status Compact(int64_t revision) = 0;
  virtual StatusOr<int64_t> LeaseGrant(int64_t ttl_seconds) = 0;
  // One keepalive; the remaining TTL in seconds, 0 when the lease is gone.
  virtual StatusOr<int64_t> LeaseKeepAlive(int64_t lease) = 0;
  virtual Status LeaseRevoke(int64_t lease) = 0;

  // Watches [key, range_end) from `start_revision` (with prev_kv) and calls `on_events` with every
  // batch and the batch's header revision (a batch may be empty: a progress notification). Runs on
  // this thread until `stop` is set (checked at least every 200 ms), the stream fails (kUnavailable)
  // or the revision is compacted (kFailedPrecondition, *compact_revision set).
  virtual Status Watch(const std::string& key, const std::string& range_end, int64_t start_revision,
                       const std::function<void(const std::vector<WatchEvent>&, int64_t revision)>& on_events,
                       const std::atomic<bool>& stop, int64_t* compact_revision) = 0;

 protected:
  explicit EtcdClient(EtcdOptions options) : options_(std::move(options)) {}
  const EtcdOptions options_;
};

}  // namespace jb::etcd
