// The profiler's handle on one exec model process: started with pipes on stdin/stdout (stderr to
// a temporary file, kept for error messages), spoken to in exec framing v2 (worker/exec_framing.h),
// each read and write bounded by a deadline. The process itself (spawning, pipes, reaping) is a
// jb::ModelProcess (worker/model_process.h), as in the worker's exec runtime. The destructor kills
// and reaps a process still running.
// Thread-safety: one thread.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "base/status.h"
#include "worker/exec_framing.h"
#include "worker/model_process.h"

namespace jb::profile {

class ExecProcess {
 public:
  ExecProcess() = default;
  ~ExecProcess();
  ExecProcess(const ExecProcess&) = delete;
  ExecProcess& operator=(const ExecProcess&) = delete;

  // Starts argv (argv[0] found on PATH when it has no '/') with the environment plus `env`, and
  // waits up to `timeout_s` for its hello frame.
  Status Start(const std::vector<std::string>& argv, const std::map<std::string, std::string>& env, double timeout_s);
  // Sends one request and waits up to `timeout_s` for its answer (an error answer is an error).
  StatusOr<exec::Response> Call(const exec::Request& req, double timeout_s);
  // Closes stdin and waits for the exit: OK on exit code 0.
  Status Finish(double timeout_s);
  // The last bytes the process wrote on stderr (for messages).
  std::string StderrTail() const;

 private:
  StatusOr<std::string> NextBody(double timeout_s);
  Status Ended(const Status& s) const;
  std::string Describe() const;

  ModelProcess proc_;
  std::string err_path_;
  std::string name_;
  exec::ExecStreamDecoder dec_{exec::Framing::kV2};
};

}  // namespace jb::profile
