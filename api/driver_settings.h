// The tier drivers' settings, typed: what `spec.tiers[].driver.settings` of an Infrastructure may
// hold for each driver type, described once with Describe() (api/fields.h) like the resources.
//
// On the wire the settings stay a map of strings (`sshPort: "2222"`, as the CRD says); the map is
// decoded into the driver's struct by the field list: numbers are parsed from their strings,
// ranges and lengths are checked, unknown keys are refused, and a map field `env` collects the
// keys "env.NAME". `jbctl validate`, apply and the daemon's manifest watcher (api/manifest.h,
// ValidateSet) report every problem as file:line:col: spec.tiers[i].driver.settings.KEY: ...;
// the drivers decode the same struct (DecodeDriverSettings) instead of parsing strings themselves.
//
// Layering: this is a control-plane contract, so it lives in api/ with the other contracts
// (api/worker_config.h), below drivers/. api/ keeps the table of driver types and their setting
// schemas (DriverSettingsSchemas); drivers/registry.h maps the same names to factories and a test
// checks that the two tables name the same drivers. So `jbctl validate` knows every driver's
// settings without linking any driver, and a new driver is one settings struct and one row here
// plus its folder under drivers/.
// Thread-safety: plain value types and reentrant functions; the table is immutable.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "api/fields.h"
#include "base/status.h"

namespace jb {

inline constexpr int64_t kDefaultPortBase = 17100;

// local: workers are child processes of the daemon on loopback ports; no settings.
struct LocalSettings {
  bool operator==(const LocalSettings&) const = default;
};
template <class V>
void Describe(V&, LocalSettings&) {}

// Shared by the drivers that reach their workers over the network: the first port the tier
// dispatcher (drivers/dispatch.h) gives the workers of one host.
struct PortSettings {
  int64_t port_base = kDefaultPortBase;
  bool operator==(const PortSettings&) const = default;
};
template <class V>
void DescribePorts(V& v, PortSettings& o) {
  v.Field("portBase", o.port_base, Opt().Range(1, 65000).Doc("First worker port on each host (default 17100)."));
}

// agent: workers run by jellybean-agent on devices that dial in.
struct AgentSettings {
  PortSettings ports;
  bool operator==(const AgentSettings&) const = default;
};
template <class V>
void Describe(V& v, AgentSettings& o) {
  DescribePorts(v, o.ports);
}

// How the ssh driver logs in (also the cloud driver's, on the VMs it creates).
struct SshLogin {
  std::string user;  // empty: the daemon's login name (or the user@ of the node's address)
  int64_t ssh_port = 22;
  std::string identity_file;
  std::string known_hosts;  // pinned host keys; empty: pin on first contact
  std::string remote_dir = ".jellybean";
  double connect_timeout_s = 5;
  bool operator==(const SshLogin&) const = default;
};
template <class V>
void DescribeSshLogin(V& v, SshLogin& o) {
  v.Field("user", o.user,
          Opt().MaxLen(255).Doc("Login name (default: the daemon's, or the user@ of the node's address)."));
  v.Field("sshPort", o.ssh_port, Opt().Range(1, 65535).Doc("Port of the hosts' ssh server (default 22)."));
  v.Field("identityFile", o.identity_file,
          Opt().MaxLen(4096).Doc("Private key file (a node's credentialsRef takes precedence)."));
  v.Field(
      "knownHosts", o.known_hosts,
      Opt().MaxLen(4096).Doc("File of pinned host keys; nothing else is accepted (default: pin on first contact)."));
  v.Field("remoteDir", o.remote_dir,
          Opt().Min(1).MaxLen(4096).Doc(
              "Directory on the host for binaries and worker files (default .jellybean in the login's home)."));
  v.Field("connectTimeoutSeconds", o.connect_timeout_s,
          Opt().Gt(0).Max(3600).Unit("s").Doc("ssh connect timeout (default 5)."));
}

// ssh: workers on servers reached with the system ssh client (drivers/ssh/ssh_driver.h).
struct SshSettings {
  SshLogin login;
  PortSettings ports;
  bool operator==(const SshSettings&) const = default;
};
template <class V>
void Describe(V& v, SshSettings& o) {
  DescribeSshLogin(v, o.login);
  DescribePorts(v, o.ports);
}

// cloud: VMs made and deleted by hook commands, then reached like ssh (drivers/cloud/).
struct CloudSettings {
  std::string create, list, del;  // hook commands (split on spaces)
  double timeout_s = 60;
  std::map<std::string, std::string> env;  // "env.NAME" settings: the hooks' environment
  SshLogin login;
  PortSettings ports;
  bool operator==(const CloudSettings&) const = default;
};
template <class V>
void Describe(V& v, CloudSettings& o) {
  // The hooks are checked when the driver needs them (CloudHookConfigFromSettings), not here: an
  // Infrastructure may name a cloud tier before its hooks exist.
  v.Field("create", o.create, Opt().Min(1).MaxLen(4096).Doc("Hook that creates a VM."));
  v.Field("list", o.list, Opt().Min(1).MaxLen(4096).Doc("Hook that lists the VMs."));
  v.Field("delete", o.del, Opt().Min(1).MaxLen(4096).Doc("Hook that deletes a VM."));
  v.Field("timeoutSeconds", o.timeout_s, Opt().Gt(0).Max(86400).Unit("s").Doc("Deadline of each hook run."));
  v.Field("env", o.env, Opt().MaxItems(64).MaxLen(4096).Doc("env.NAME: environment of the hooks."));
  DescribeSshLogin(v, o.login);
  DescribePorts(v, o.ports);
}

// One driver type's settings schema.
struct DriverSettingsSchema {
  std::string type;
  // Decodes `settings` (as written under `path`, e.g. "spec.tiers[1].driver.settings") into the
  // driver's struct and reports each problem; `marks` gives the positions of the settings' values
  // (recorded by the manifest decoder); may be null.
  void (*validate)(const std::map<std::string, std::string>& settings, const std::string& path,
                   const std::unordered_map<std::string, Mark>* marks, const std::string& file,
                   std::vector<Diagnostic>* diags);
};

// The driver types, in the order error messages list them: local, ssh, agent, cloud.
const std::vector<DriverSettingsSchema>& DriverSettingsSchemas();
const std::vector<std::string>& DriverTypeNames();
// nullptr when `type` is not a driver type.
const DriverSettingsSchema* FindDriverSettings(const std::string& type);

// The Value the field list of T decodes `settings` from: numbers parsed from the strings of
// numeric fields (left as strings when they do not parse, so the decoder says what was expected),
// "NAME.KEY" entries gathered under a map field NAME, everything else as written. Each value gets
// the mark of "<path>.<key>" from `marks`. A numeric setting that is not a number is reported to
// `diags` and left out.
template <class T>
Value SettingsValue(const std::map<std::string, std::string>& settings, const std::string& path,
                    const std::unordered_map<std::string, Mark>* marks, const std::string& file,
                    std::vector<Diagnostic>* diags);

// Decodes `settings` (written at `path`) into T, adding every problem to `diags`.
template <class T>
void DecodeSettingsInto(const std::map<std::string, std::string>& settings, const std::string& path,
                        const std::unordered_map<std::string, Mark>* marks, const std::string& file,
                        std::vector<Diagnostic>* diags, T* out);

// Decodes `settings` into T; InvalidArgument listing every problem ("where.KEY: ...") on failure.
template <class T>
StatusOr<T> DecodeDriverSettings(const std::map<std::string, std::string>& settings,
                                 const std::string& where = "driver.settings");

// ---- implementation -----------------------------------------------------------------------------
namespace settings_internal {

// Parses `s` as a number the way the YAML codec would; false when it is not one (or not an
// integer when `integer`).
bool ParseNumber(const std::string& s, bool integer, double* out);

class Builder {
 public:
  // A setting of a numeric field whose string is not a number is reported to `diags` (when given)
  // and left out; everything else is left for the decoder to judge.
  Builder(const std::map<std::string, std::string>& settings, const std::string& path,
          const std::unordered_map<std::string, Mark>* marks, const std::string& file, std::vector<Diagnostic>* diags)
      : settings_(settings), path_(path), marks_(marks), file_(file), diags_(diags), out_(Value::Map()) {
    out_.set_mark(MarkOf(path_));
  }

  template <class T>
  void Field(const char* name, T& member, const FieldOpts&) {
    (void)member;
    using Inner = typename Unwrap<T>::type;
    if constexpr (IsStrMap<Inner>::value) {
      std::string prefix = std::string(name) + ".";
      Value m = Value::Map();
      for (const auto& [k, v] : settings_)
        if (k.size() > prefix.size() && k.compare(0, prefix.size(), prefix) == 0) {
          Add(m, k.substr(prefix.size()), k, Value::String(v));
          used_.push_back(k);
        }
      if (!m.entries().empty()) out_.Set(name, std::move(m));
    } else {
      auto it = settings_.find(name);
      if (it == settings_.end()) return;
      used_.push_back(name);
      Value v = Value::String(it->second);
      double d = 0;
      constexpr bool kInteger = std::is_same_v<Inner, int64_t>;
      if constexpr (kInteger || std::is_same_v<Inner, double>) {
        if (!ParseNumber(it->second, kInteger, &d)) {
          if (diags_ != nullptr)
            diags_->push_back(Diagnostic{file_, MarkOf(path_ + "." + name), path_ + "." + name,
                                         "\"" + Excerpt(it->second) + "\" is not " +
                                             (kInteger ? "an integer" : "a number") + "; expected " +
                                             (kInteger ? "an integer" : "a number") + ", written as a string"});
          return;
        }
        v = kInteger ? Value::Integer(static_cast<int64_t>(d)) : Value::Number(d);
      }
      Add(out_, name, name, std::move(v));
    }
  }

  Value Finish() {
    for (const auto& [k, v] : settings_) {
      bool used = false;
      for (const auto& u : used_) used = used || u == k;
      if (!used) Add(out_, k, k, Value::String(v));  // the decoder reports it as unknown
    }
    return std::move(out_);
  }

 private:
  template <class U>
  struct Unwrap {
    using type = U;
  };
  template <class U>
  struct Unwrap<std::optional<U>> {
    using type = U;
  };

  Mark MarkOf(const std::string& path) const {
    if (marks_ != nullptr)
      if (auto it = marks_->find(path); it != marks_->end()) return it->second;
    return Mark();
  }
  void Add(Value& map, const std::string& key, const std::string& setting, Value v) {
    Mark m = MarkOf(path_ + "." + setting);
    v.set_mark(m);
    map.Set(key, std::move(v));
    map.entries().back().key_mark = m;
  }

  const std::map<std::string, std::string>& settings_;
  std::string path_;
  const std::unordered_map<std::string, Mark>* marks_;
  std::string file_;
  std::vector<Diagnostic>* diags_;
  std::vector<std::string> used_;
  Value out_;
};

}  // namespace settings_internal

template <class T>
Value SettingsValue(const std::map<std::string, std::string>& settings, const std::string& path,
                    const std::unordered_map<std::string, Mark>* marks, const std::string& file,
                    std::vector<Diagnostic>* diags) {
  settings_internal::Builder b(settings, path, marks, file, diags);
  T dummy{};
  Describe(b, dummy);
  return b.Finish();
}

template <class T>
void DecodeSettingsInto(const std::map<std::string, std::string>& settings, const std::string& path,
                        const std::unordered_map<std::string, Mark>* marks, const std::string& file,
                        std::vector<Diagnostic>* diags, T* out) {
  Value v = SettingsValue<T>(settings, path, marks, file, diags);
  Decoder dec(file, diags, nullptr);
  dec.DecodeInto(v, *out, path);
}

template <class T>
StatusOr<T> DecodeDriverSettings(const std::map<std::string, std::string>& settings, const std::string& where) {
  std::vector<Diagnostic> diags;
  T out{};
  DecodeSettingsInto(settings, where, nullptr, "", &diags, &out);
  if (diags.empty()) return out;
  std::string msg;
  for (const auto& d : diags) msg += (msg.empty() ? "" : "; ") + d.path + ": " + d.message;
  return Status::InvalidArgument(msg);
}

}  // namespace jb
