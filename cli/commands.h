// jbctl subcommands that are testable as functions (arguments in, output to the given streams,
// exit status out).
#pragma once

#include <ostream>
#include <string>
#include <vector>

namespace jb {

// jbctl plan -f FILE|DIR [...]: plans a workflow offline and prints the plan.
int PlanCommand(const std::vector<std::string>& args, std::ostream& out, std::ostream& err);

}  // namespace jb
