// jbctl's commands against jellybeand, shared by their files: the connection (flags, user config,
// the local daemon's state dir), response helpers, and one function per command. Internal to
// jb_cli; the entry point is RemoteCommand (cli/commands.h).
// Each command takes the connection with its remaining arguments, writes results to `out` and
// errors to `err`, and returns the exit status (diff: 0 same, 1 differs, 2 error; others 0 or 1).
// Thread-safety: plain functions; each call uses only its own arguments.
#pragma once

#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "api/types.h"
#include "base/status.h"
#include "daemon/http.h"

namespace jb::cli {

inline const std::string kApiPath = "/apis/jellybean.dev/v1alpha1/";

// Connection settings: flags, then ~/.config/jellybean/config, then the local daemon's state dir.
struct Remote {
  HttpClientOptions http;
  std::vector<std::string> rest;  // arguments left after the connection flags
  std::string state_dir;          // the daemon's state directory as jbctl knows it (--state-dir, default)
};

// Reads the connection flags out of `args`; Unavailable when no server or token is found.
StatusOr<Remote> Connect(const std::vector<std::string>& args);

// "workflows", "modelprofiles" or "infrastructures" for a kind, its plural or short name (any
// case); "" for anything else.
std::string PluralOf(const std::string& kind);

// Error message of a non-2xx response (the Status body's message and causes).
std::string ErrorOf(const HttpResponse& resp);

// The object in a response body.
StatusOr<Object> DecodeResponse(const HttpResponse& resp);

// GET workflows/NAME; errors go to `err` prefixed with `what` (then nullopt).
std::optional<Workflow> FetchWorkflow(const Remote& r, const std::string& name, const std::string& what,
                                      std::ostream& err);

// apply_commands.cc: jbctl apply -f, delete KIND NAME | -f, diff -f.
int Apply(const Remote& r, std::ostream& out, std::ostream& err);
int Delete(const Remote& r, std::ostream& out, std::ostream& err);
int Diff(const Remote& r, std::ostream& out, std::ostream& err);

// get_commands.cc: jbctl get KIND [NAME] [-o ...], describe workflow NAME.
int Get(const Remote& r, std::ostream& out, std::ostream& err);
int Describe(const Remote& r, std::ostream& out, std::ostream& err);

// rollout_commands.cc: jbctl rollout history|undo workflow NAME [--to-epoch N].
int Rollout(const Remote& r, std::ostream& out, std::ostream& err);

// what_if_command.cc: jbctl plan --what-if -f FILE|DIR.
int WhatIf(const Remote& r, std::ostream& out, std::ostream& err);

}  // namespace jb::cli
