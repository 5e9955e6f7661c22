// jbctl's client config (kubeconfig-like): named contexts, each a daemon's server, token and CA,
// and the current one. The file (--config, else $JBCONFIG, else ~/.config/jellybean/config) is
// YAML:
//   current-context: lab
//   contexts:
//   - name: lab
//     server: https://10.0.0.5:8443
//     tokenFile: /home/me/.config/jellybean/lab.token   # or token: ...
//     ca: /home/me/.config/jellybean/lab-ca.crt
//     stateDir: /var/lib/jellybean                       # optional: a local daemon's files
// The older flat form (server/tokenFile/ca/stateDir at the top level) still reads: it is the
// context "default" and is used when no context is selected.
// Thread-safety: plain functions and values.
#pragma once

#include <ostream>
#include <string>
#include <vector>

#include "base/status.h"

namespace jb::cli {

struct ClientContext {
  std::string name;
  std::string server, token, token_file, ca, state_dir;
};

struct ClientConfig {
  std::string current_context;          // "" = none
  std::vector<ClientContext> contexts;  // the flat legacy keys, if any, as a context "default"
  bool legacy = false;                  // the file had the flat form
};

// The config file's path for a --config value ("" = default).
std::string ConfigPath(const std::string& flag);

// Reads the config; an absent file is an empty config; InvalidArgument names a malformed file.
StatusOr<ClientConfig> LoadClientConfig(const std::string& path);

// Writes the config (contexts form), creating the directory; Internal on I/O failure.
Status SaveClientConfig(const std::string& path, const ClientConfig& cfg);

// The context `name` (or the current one for "", or the legacy "default" when none is current);
// nullptr when there is none. NotFound is the caller's to report for a named miss.
const ClientContext* FindContext(const ClientConfig& cfg, const std::string& name);

// jbctl config get-contexts | current-context | use-context NAME |
// set-context NAME [--server --token --token-file --ca --state-dir].
struct ConfigOptions {
  std::string action;
  std::string name;
  ClientContext fields;  // set-context: the fields to set ("" = keep)
};
int ConfigCommand(const std::string& config_flag, const ConfigOptions& o, std::ostream& out, std::ostream& err);

}  // namespace jb::cli
