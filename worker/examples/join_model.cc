// jb-example-join-model: a join as an ordinary exec process (exec framing v2, docs/exec-framing.md).
// It answers each request with its key and its parts, one line each, in the order they came:
//
//   key=<key>
//   <name>=<data>        (one line per part)
//
// Options (for examples and tests, each deterministic):
//   --expect NAME      a part the request must have (repeatable): without it, an error frame
//                      "no part named NAME" (the item fails, the process goes on)
//   --fail-every N     an error frame for every request whose key is an integer divisible by N
//   --exit-on-key K    exit with code 1, without answering, on the request with key K
//   --misanswer-key K  on the request with key K, first write an answer under the key "not-K"
//                      (a protocol error: the worker restarts the process)
//   --record FILE      append "<pid>\t<key>\t<name>,<name>...\n" per request (one write each)
// Under v1 (no key, one part named "") it answers the same way with "key=" and "=<data>".
#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "models/common/exec_model.h"

namespace {

struct Options {
  std::vector<std::string> expect;
  long fail_every = 0;
  std::string exit_on_key;
  bool exit_on = false;
  std::string misanswer_key;
  bool misanswer = false;
  int record_fd = -1;
};

bool Parse(int argc, char** argv, Options* o) {
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (i + 1 >= argc) return false;
    std::string v = argv[++i];
    if (a == "--expect") {
      o->expect.push_back(v);
    } else if (a == "--fail-every") {
      o->fail_every = std::strtol(v.c_str(), nullptr, 10);
      if (o->fail_every <= 0) return false;
    } else if (a == "--exit-on-key") {
      o->exit_on_key = v;
      o->exit_on = true;
    } else if (a == "--misanswer-key") {
      o->misanswer_key = v;
      o->misanswer = true;
    } else if (a == "--record") {
      o->record_fd = open(v.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
      if (o->record_fd < 0) {
        std::perror(v.c_str());
        return false;
      }
    } else {
      return false;
    }
  }
  return true;
}

// The key as a non-negative integer, or -1.
long KeyNumber(const std::string& key) {
  if (key.empty() || key.size() > 18) return -1;
  for (char c : key)
    if (c < '0' || c > '9') return -1;
  return std::strtol(key.c_str(), nullptr, 10);
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  if (!Parse(argc, argv, &o)) {
    std::fprintf(stderr,
                 "usage: jb-example-join-model [--expect NAME]... [--fail-every N] [--exit-on-key K] [--misanswer-key "
                 "K] [--record FILE]\n");
    return 2;
  }
  return jb::exec::ServeModel(
      "{\"ready\":true,\"model\":\"example-join\",\"framing\":2}",
      [&](const jb::exec::Request& req) -> jb::StatusOr<std::string> {
        if (o.record_fd >= 0) {
          std::string line = std::to_string(getpid()) + "\t" + req.key + "\t";
          for (size_t i = 0; i < req.parts.size(); ++i) line += (i ? "," : "") + req.parts[i].name;
          line += "\n";
          if (write(o.record_fd, line.data(), line.size()) != static_cast<ssize_t>(line.size()))
            return jb::Status::Internal("cannot write the record");
        }
        if (o.exit_on && req.key == o.exit_on_key) std::_Exit(1);
        if (o.misanswer && req.key == o.misanswer_key) {
          std::string frame;
          if (jb::exec::EncodeResponse(jb::exec::Response{"not-" + req.key, true, "?"}, {}, &frame).ok() &&
              write(1, frame.data(), frame.size()) != static_cast<ssize_t>(frame.size()))
            return jb::Status::Internal("cannot write the wrong answer");
        }
        for (const auto& name : o.expect)
          if (req.Find(name) == nullptr) return jb::Status::InvalidArgument("no part named " + name);
        long n = KeyNumber(req.key);
        if (o.fail_every > 0 && n >= 0 && n % o.fail_every == 0)
          return jb::Status::InvalidArgument("refusing key " + req.key + " (--fail-every " +
                                             std::to_string(o.fail_every) + ")");
        std::string out = "key=" + req.key;
        for (const auto& p : req.parts) out += "\n" + p.name + "=" + p.data;
        return out;
      });
}
