// A jbctl test fixture: an in-process API server (MemoryStore, events) on loopback port 0, and
// Run() that parses a whole jbctl command line (RunJbctl) against it.
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "base/mutex.h"
#include "cli/commands.h"
#include "daemon/api_server.h"
#include "reconciler/events.h"
#include "reconciler/memory_store.h"
#include "testing/util.h"

namespace jb::cli {

struct JbctlResult {
  int code = 0;
  std::string out, err;
};

class JbctlFixture : public ::testing::Test {
 protected:
  static constexpr const char* kToken = "0123456789abcdef0123456789abcdef";
  void SetUp() override {
    auto s = StartHttpServer(HttpServerOptions{}, [this](const HttpRequest& r) {
      {
        MutexLock l(&mu_);
        requests_.push_back(r.method + " " + r.target);
      }
      return api_.Handle(r);
    });
    ASSERT_TRUE(s.ok()) << s.status().message();
    server_ = std::move(*s);
    url_ = "http://127.0.0.1:" + std::to_string(server_->port());
  }
  // jbctl ARGS... with --server and --token appended (unless `connect` is false); `in` is stdin.
  JbctlResult Run(std::vector<std::string> args, const std::string& in = "", bool connect = true) {
    if (connect)
      for (const auto& a : {std::string("--server"), url_, std::string("--token"), std::string(kToken)})
        args.push_back(a);
    std::istringstream is(in);
    std::ostringstream out, err;
    JbctlResult r;
    r.code = RunJbctl(args, is, out, err);
    r.out = out.str();
    r.err = err.str();
    return r;
  }
  std::vector<std::string> Requests() {
    MutexLock l(&mu_);
    return requests_;
  }
  // Applies manifests/vqa (exit 0 expected).
  void ApplyVqa() {
    auto r = Run({"apply", "-f", std::string(JB_SOURCE_DIR) + "/manifests/vqa/"});
    ASSERT_EQ(r.code, 0) << r.err;
  }

  MemoryStore store_;
  EventRecorder events_;
  ApiServer api_{&store_, nullptr, kToken, &events_};
  std::unique_ptr<HttpServer> server_;
  std::string url_;
  Mutex mu_;
  std::vector<std::string> requests_ GUARDED_BY(mu_);
};

}  // namespace jb::cli
