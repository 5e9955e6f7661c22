#include "cli/profile_process.h"

#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <sstream>

namespace jb::profile {
namespace {

using SteadyClock = std::chrono::steady_clock;

SteadyClock::time_point DeadlineIn(double timeout_s) {
  return SteadyClock::now() +
         std::chrono::duration_cast<SteadyClock::duration>(std::chrono::duration<double>(timeout_s));
}

}  // namespace

ExecProcess::~ExecProcess() {
  proc_.Kill();
  if (!err_path_.empty()) unlink(err_path_.c_str());
}

std::string ExecProcess::Describe() const { return "model process \"" + name_ + "\""; }

std::string ExecProcess::StderrTail() const {
  std::ifstream f(err_path_, std::ios::binary);
  std::stringstream s;
  s << f.rdbuf();
  std::string t = s.str();
  if (t.size() > 400) t = "..." + t.substr(t.size() - 400);
  while (!t.empty() && (t.back() == '\n' || t.back() == '\r')) t.pop_back();
  return t;
}

// A failure of the process (it ended, closed a pipe, broke the framing), with its stderr's tail.
Status ExecProcess::Ended(const Status& s) const {
  std::string tail = StderrTail();
  return Status::Unavailable(Describe() + " " + s.message() + (tail.empty() ? "" : "; its stderr: " + tail));
}

Status ExecProcess::Start(const std::vector<std::string>& argv, const std::map<std::string, std::string>& env,
                          double timeout_s) {
  if (argv.empty()) return Status::InvalidArgument("empty command");
  name_ = CommandLine(argv);
  char tmpl[] = "/tmp/jbctl-profile-stderr-XXXXXX";
  int err_fd = mkstemp(tmpl);
  if (err_fd < 0) return Status::Internal("cannot create a temporary file for the model's stderr");
  err_path_ = tmpl;
  Status spawned = proc_.Spawn(ModelCommand{argv, env, err_fd});
  close(err_fd);
  if (!spawned.ok()) return Status::NotFound("cannot start " + Describe() + ": " + spawned.message());
  proc_.SetNonBlocking();  // so that every write, too, is bounded by its deadline
  auto hello = proc_.Handshake("{\"framing\":2,\"client\":\"jbctl profile\"}", &dec_, DeadlineIn(timeout_s));
  if (hello.ok()) return Status::Ok();
  if (hello.status().code() == Status::Code::kDeadlineExceeded)
    return Status::Unavailable(Describe() + " did not answer within " + std::to_string(timeout_s) + " s");
  if (hello.status().message().find("instead of a hello frame") != std::string::npos)
    return Status::Unavailable(Describe() +
                               " did not start with a hello frame (exec framing v2): " + hello.status().message());
  return Ended(hello.status());
}

StatusOr<std::string> ExecProcess::NextBody(double timeout_s) {
  auto frame = proc_.ReadFrame(&dec_, DeadlineIn(timeout_s));
  if (!frame.ok()) {
    if (frame.status().code() == Status::Code::kDeadlineExceeded)
      return Status::DeadlineExceeded(Describe() + " did not answer within " + std::to_string(timeout_s) + " s");
    return Ended(frame.status());
  }
  if (!frame->skipped.ok()) return Status::Unavailable(Describe() + ": " + frame->skipped.message());
  return std::move(frame->body);
}

StatusOr<exec::Response> ExecProcess::Call(const exec::Request& req, double timeout_s) {
  std::string frame;
  if (auto s = exec::EncodeRequest(req, exec::Limits{}, &frame); !s.ok()) return s;
  if (auto s = proc_.WriteAll(frame, DeadlineIn(timeout_s)); !s.ok()) {
    if (s.code() == Status::Code::kDeadlineExceeded)
      return Status::DeadlineExceeded(Describe() + " did not read its request within " + std::to_string(timeout_s) +
                                      " s");
    return Ended(s);
  }
  auto body = NextBody(timeout_s);
  if (!body.ok()) return body.status();
  auto resp = exec::DecodeResponseBody(*body, exec::Limits{});
  if (!resp.ok()) return Status::Unavailable(Describe() + " sent a bad answer: " + resp.status().message());
  if (resp->key != req.key)
    return Status::Unavailable(Describe() + " answered key \"" + resp->key + "\" to request \"" + req.key + "\"");
  if (!resp->ok) return Status::Unavailable(Describe() + " failed item \"" + req.key + "\": " + resp->data);
  return resp;
}

Status ExecProcess::Finish(double timeout_s) {
  proc_.CloseInput();
  if (!proc_.running()) return Status::Ok();
  auto how = proc_.WaitExit(timeout_s);
  if (!how) return Status::DeadlineExceeded(Describe() + " did not exit at the end of its input");
  if (*how == "exited with code 0") return Status::Ok();
  return Status::Unavailable(Describe() + " did not exit cleanly at the end of its input");
}

}  // namespace jb::profile
