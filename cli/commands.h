// jbctl subcommands that are testable as functions (arguments in, output to the given streams,
// exit status out).
#pragma once

#include <ostream>
#include <string>
#include <vector>

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

}  // namespace jb
