// jbctl's entry point and its subcommands that are testable as functions (arguments in, output
// to the given streams, exit status out). Exit status as kubectl's: 0 success, 1 error (diff: 0
// same, 1 differs, 2 error).
#pragma once

#include <istream>
#include <ostream>
#include <string>
#include <vector>

#include "daemon/http.h"

namespace jb {

namespace cli {
struct Remote;
}  // namespace cli
using RemoteOptions = cli::Remote;

// The whole command line (without argv[0]): parses it (cli/jbctl.cc, CLI11) and runs the command.
// `in` is read by -f -.
int RunJbctl(const std::vector<std::string>& args, std::istream& in, std::ostream& out, std::ostream& err);

// jbctl plan -f FILE|DIR [...]: plans a workflow offline and prints the plan.
int PlanCommand(const std::vector<std::string>& args, std::ostream& out, std::ostream& err);

// jbctl profile -f FILE|DIR --data NAME=INDEX -o DIR [...]: profiles every variant on this machine
// (cli/profile.h) and writes the ModelProfiles and the Workflow's accuracy table.
int ProfileCommand(const std::vector<std::string>& args, std::ostream& out, std::ostream& err);

// "what-if" (jbctl plan --what-if -f DIR): plans the daemon's objects with the given manifests in
// their place and prints the diff against the running plan; applies nothing. Connection flags
// are read from `args` (cli/remote.h, Connect).
int RemoteCommand(const std::string& verb, const std::vector<std::string>& args, std::ostream& out, std::ostream& err);

// jbctl validate -f FILE|DIR...: prints "FILE: Kind/name: ok" per valid document, then every
// diagnostic; 1 when any document is invalid or a path is missing.
int ValidateCommand(const std::vector<std::string>& files, std::ostream& out, std::ostream& err);

// jbctl import jellybean-prototype DIR [-o OUTDIR] [--workflow-name N] [--infrastructure-name N]
// [--percentile P].
struct ImportCommandOptions {
  std::string source;  // "jellybean-prototype"
  std::string dir, out_dir, workflow_name, infrastructure_name, percentile;
};
int ImportCommand(const ImportCommandOptions& o, std::ostream& out, std::ostream& err);

// jbctl crds [-o OUTDIR]: prints (or writes) the CustomResourceDefinitions.
int CrdsCommand(const std::string& out_dir, std::ostream& out, std::ostream& err);

}  // namespace jb
