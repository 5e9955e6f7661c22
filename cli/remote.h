// jbctl's commands against jellybeand, shared by their files: the connection (flags, the client
// config's contexts, the local daemon's state dir), response helpers, and one function per command.
// Internal to jb_cli; the entry point is RunJbctl (cli/commands.h), which parses the command line
// (cli/jbctl.cc, the only file that sees CLI11) into the plain option structs below.
// Each command takes the connection and its options, writes results to `out` and errors to `err`,
// and returns the exit status (kubectl's: 0 success, 1 error; diff: 0 same, 1 differs, 2 error).
// Thread-safety: plain functions; each call uses only its own arguments.
#pragma once

#include <functional>
#include <istream>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "api/manifest.h"
#include "api/types.h"
#include "api/value.h"
#include "base/status.h"
#include "base/version.h"
#include "daemon/http.h"

namespace jb::cli {

inline const std::string kApiPath = "/apis/jellybean.dev/v1alpha1/";

// The client's version (`jbctl version`).
inline constexpr const char* kClientVersion = kJellyBeanVersion;

// The global connection flags; "" = not given.
struct ConnectionFlags {
  std::string server;      // --server URL
  std::string token;       // --token TOKEN (wins over --token-file)
  std::string token_file;  // --token-file FILE
  std::string ca;          // --ca FILE
  std::string state_dir;   // --state-dir DIR (a local daemon's endpoint, token and CA)
  std::string context;     // --context NAME (default: the config's current-context)
  std::string config;      // --config FILE (default: $JBCONFIG, else ~/.config/jellybean/config)
  double timeout_s = 30;   // --request-timeout SECONDS
};

// Connection settings: flags, then the client config's context, then the local daemon's state dir.
struct Remote {
  HttpClientOptions http;
  std::vector<std::string> rest;  // arguments left after the connection flags (Connect only)
  std::string state_dir;          // the daemon's state directory as jbctl knows it (--state-dir, default)
};

// Resolves the flags against the client config (cli/client_config.h) and the state dir;
// Unavailable when no server or token is found, NotFound for an unknown --context.
StatusOr<Remote> ConnectWith(const ConnectionFlags& flags);

// Reads --server/--token/--token-file/--ca/--state-dir/--context/--config out of `args` (the
// rest go to Remote::rest), then ConnectWith. For the commands with their own parsers (plan
// --what-if, profile --from-observed).
StatusOr<Remote> Connect(const std::vector<std::string>& args);

// "workflows", "modelprofiles" or "infrastructures" for a kind, its plural or short name (any
// case, optionally with ".jellybean.dev"); "" for anything else.
std::string PluralOf(const std::string& kind);

// "workflow" for "workflows" etc.
std::string SingularOf(const std::string& plural);

// Error message of a non-2xx response (the Status body's message and causes).
std::string ErrorOf(const HttpResponse& resp);

// The object in a response body.
StatusOr<Object> DecodeResponse(const HttpResponse& resp);

// The objects of a List response body; InvalidArgument when it is not a list.
StatusOr<std::vector<Object>> DecodeList(const HttpResponse& resp);

// GET workflows/NAME; errors go to `err` prefixed with `what` (then nullopt).
std::optional<Workflow> FetchWorkflow(const Remote& r, const std::string& name, const std::string& what,
                                      std::ostream& err);

// Splits "workflow/vqa" into ("workflows", "vqa"), or takes (KIND, NAME) from two positionals.
// Returns false with a message on `err` when the kind is unknown or the name missing.
bool ResolveTarget(const std::vector<std::string>& positionals, std::string* plural, std::string* name,
                   const std::string& what, std::ostream& err);

// ---- apply_commands.cc ----
struct ApplyOptions {
  std::vector<std::string> files;  // -f FILE|DIR|- (repeatable)
  bool recursive = false;          // -R: descend into sub-directories of a DIR
  std::string dry_run = "none";    // --dry-run=none|client|server
  bool force = false;              // --force: take objects over from the manifest file that owns them
};
int Apply(const Remote& r, const ApplyOptions& o, std::istream& in, std::ostream& out, std::ostream& err);

struct DeleteOptions {
  std::vector<std::string> positionals;  // KIND NAME... | KIND/NAME...
  std::vector<std::string> files;        // -f FILE|DIR|-
  bool recursive = false;
  bool ignore_not_found = false;  // --ignore-not-found
};
int Delete(const Remote& r, const DeleteOptions& o, std::istream& in, std::ostream& out, std::ostream& err);

struct DiffOptions {
  std::vector<std::string> files;
  bool recursive = false;
};
// Unified hunks of `diff -u -N` (or $JBCTL_EXTERNAL_DIFF) between live and local YAML.
int Diff(const Remote& r, const DiffOptions& o, std::istream& in, std::ostream& out, std::ostream& err);

// The documents of the -f arguments ("-" = `in`), validated as a set: nullopt (diagnostics on
// `err`) when a path is missing or a document is invalid. DIRs: top level only unless recursive.
std::optional<std::vector<Document>> ReadManifests(const std::vector<std::string>& files, bool recursive,
                                                   std::istream& in, std::ostream& err);

// ---- get_commands.cc ----
struct GetOptions {
  std::vector<std::string> positionals;  // KIND [NAME...] | KIND/NAME... | all | events
  std::string output;                    // -o json|yaml|wide|name|jsonpath=...|custom-columns=...
  std::string selector;                  // -l key=value,key!=value,key,!key
  bool no_headers = false;               // --no-headers
  std::string for_object;                // --for KIND/NAME (get events)
};
int Get(const Remote& r, const GetOptions& o, std::ostream& out, std::ostream& err);

// jbctl __complete KIND (the completion scripts): the names of KIND's objects, one a line,
// prefixed with KIND when it ends in '/'. 1 for an unknown kind or when the daemon does not answer.
int CompleteNames(const Remote& r, const std::string& kind, std::ostream& out, std::ostream& err);

// The table of `get` for objects of one kind (header row first); `wide` adds columns, `prefix`
// names rows "kind/NAME" (get all).
std::vector<std::vector<std::string>> ObjectTable(const std::string& plural, const std::vector<Object>& objects,
                                                  bool wide, bool prefix);

// ---- watch_command.cc: jbctl get KIND [NAME] -w ----
// Follows the daemon's watch (GET ...?watch=true, one streamed connection, daemon/api_server.h):
// the current objects first (ADDED), then a row per change as it arrives. After a dropped
// connection it reconnects (with back-off, resolving the connection again, so a restarted local
// daemon on a new port is found through its state dir) and resumes after the last
// resourceVersion seen (event or BOOKMARK); on 410 Gone (that version is older than the daemon's
// history) it lists again and prints what changed meanwhile: MODIFIED for objects that differ,
// DELETED for those gone, ADDED for new ones. Nothing is printed twice.
struct WatchOptions {
  std::string kind;           // a kind, plural or short name
  std::string name;           // "" = every object of the kind
  std::string output;         // "" | wide | name | json | yaml
  std::string selector;       // -l, sent as labelSelector
  bool watch_events = false;  // --output-watch-events: an EVENT column, or whole events in json/yaml
  bool no_headers = false;
  int max_events = -1;   // return 0 after printing this many (-1: never; tests)
  double give_up_s = 0;  // stop reconnecting after this long without a connection (0: never)
};
using Connector = std::function<StatusOr<Remote>()>;
// 1 when the first connection fails, the server refuses the watch (e.g. a bad selector), or
// give_up_s passes without a connection.
int Watch(const Connector& connect, const WatchOptions& o, std::ostream& out, std::ostream& err);

// describe_commands.cc: KIND NAME | KIND/NAME for every kind (conditions, spec tables, events).
struct DescribeOptions {
  std::vector<std::string> positionals;
};
int Describe(const Remote& r, const DescribeOptions& o, std::ostream& out, std::ostream& err);

// ---- wait_commands.cc ----
struct WaitOptions {
  std::vector<std::string> positionals;  // KIND NAME | KIND/NAME
  std::string for_;                      // condition=TYPE[=STATUS] | delete
  double timeout_s = 30;                 // --timeout (30s, 2m, 500ms)
  double poll_s = 0.2;                   // between GETs
};
int Wait(const Remote& r, const WaitOptions& o, std::ostream& out, std::ostream& err);

// jbctl rollout status workflow NAME [--timeout]: waits until no rollout is in progress and Ready.
struct RolloutStatusOptions {
  std::vector<std::string> positionals;
  double timeout_s = 300;
  bool watch = true;  // --watch=false: report once
  double poll_s = 0.2;
};
int RolloutStatusCommand(const Remote& r, const RolloutStatusOptions& o, std::ostream& out, std::ostream& err);

// Seconds in "30s", "2m", "1h", "500ms" or a bare number; nullopt when malformed.
std::optional<double> ParseDuration(const std::string& s);

// ---- rollout_commands.cc ----
struct RolloutOptions {
  std::string action;  // history | undo
  std::vector<std::string> positionals;
  std::optional<int64_t> to_epoch;  // --to-epoch N (undo)
};
int Rollout(const Remote& r, const RolloutOptions& o, std::ostream& out, std::ostream& err);

// ---- info_commands.cc ----
struct VersionOptions {
  bool client_only = false;  // --client
  std::string output;        // -o json|yaml
};
// Needs `r` only without --client; `connect_error` is printed as the server's line when set.
int Version(const std::optional<Remote>& r, const std::string& connect_error, const VersionOptions& o,
            std::ostream& out, std::ostream& err);

struct ExplainOptions {
  std::string field;  // KIND[.field.path]
  bool recursive = false;
};
// From the CustomResourceDefinitions' descriptions (api/crd.h).
int Explain(const ExplainOptions& o, std::ostream& out, std::ostream& err);

// ---- what_if_command.cc: jbctl plan --what-if -f FILE|DIR (Remote::rest from Connect). ----
int WhatIf(const Remote& r, std::ostream& out, std::ostream& err);

}  // namespace jb::cli
