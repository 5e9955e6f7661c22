// jbctl subcommands that are testable as functions (arguments in, output to the given streams,
// exit status out).
#pragma once

#include <ostream>
#include <string>
#include <vector>

#include "daemon/http.h"

namespace jb {

// jbctl plan -f FILE|DIR [...]: plans a workflow offline and prints the plan.
int PlanCommand(const std::vector<std::string>& args, std::ostream& out, std::ostream& err);

// jbctl profile -f FILE|DIR --data NAME=INDEX -o DIR [...]: profiles every variant on this machine
// (cli/profile.h) and writes the ModelProfiles and the Workflow's accuracy table.
int ProfileCommand(const std::vector<std::string>& args, std::ostream& out, std::ostream& err);

// jbctl apply|get|describe|delete|diff against jellybeand. Connection: --server/--token-file/--ca,
// else ~/.config/jellybean/config, else the local daemon's files in --state-dir ($JB_STATE_DIR,
// default /var/lib/jellybean).
// "what-if" (jbctl plan --what-if -f DIR): plans the daemon's objects with the given manifests in
// their place and prints the diff against the running plan; applies nothing.
int RemoteCommand(const std::string& verb, const std::vector<std::string>& args, std::ostream& out, std::ostream& err);

// The connection of a command called as a function (the parser fills it from the flags).
struct RemoteOptions {
  HttpClientOptions http;
};

// jbctl get KIND [NAME] -w: follows the daemon's watch (GET ...?watch=true, in windows of
// `window_s` seconds resumed from the last resourceVersion seen, so nothing is missed between
// windows; a 410 Gone relists). Prints one line per event (EVENT NAME RESOURCEVERSION, or the
// object as json / yaml per event with `output` "json" / "yaml"). Returns when `max_events`
// events were printed (-1: never), or 1 on an error.
int WatchCommand(const RemoteOptions& opts, const std::string& kind, const std::string& name,
                 const std::string& output, std::ostream& out, std::ostream& err, int max_events = -1,
                 double window_s = 2);
int WatchCommand(const RemoteOptions& opts, const std::string& kind, const std::string& name,
                 const std::string& output);

}  // namespace jb
