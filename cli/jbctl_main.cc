// jbctl: the command-line client (kubectl conventions: results on stdout, errors on stderr,
// exit 0 on success, 1 on error). The command tree is cli/jbctl.cc.
#include <signal.h>

#include <iostream>
#include <string>
#include <vector>

#include "cli/commands.h"

int main(int argc, char** argv) {
  // A server that closes while jbctl writes must be an error message, not a silent exit 141.
  signal(SIGPIPE, SIG_IGN);
  return jb::RunJbctl(std::vector<std::string>(argv + 1, argv + argc), std::cin, std::cout, std::cerr);
}
