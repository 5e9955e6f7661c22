// Integration tests that start the real jellybeand and jbctl binaries (port 0, temp state dirs).
#include "daemon/daemon.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <fstream>
#include <thread>
#include <tuple>

#include "api/manifest.h"
#include "daemon/http.h"
#include "testing/daemon_fixture.h"
#include "tests/test_util.h"

extern char** environ;

namespace jb {
namespace {

using Clock = std::chrono::steady_clock;

// "Within a second" holds for optimised builds; sanitizer builds run several times slower.
#if defined(__SANITIZE_ADDRESS__)
constexpr double kPlannedWithinS = 10;
#else
constexpr double kPlannedWithinS = 1;
#endif

using testing::Daemon;
using testing::GetObject;
using testing::kApi;
using testing::Planned;

TEST(Daemon, ApplyPlansQuicklyAndEverythingSurvivesARestart) {
  testing::TempDir dir;
  auto state = dir.path() / "state";
  HttpClientOptions c;
  std::map<std::string, std::string> versions;
  {
    Daemon d(state, {}, {"--driver", "fake"});
    ASSERT_TRUE(d.WaitReady(&c)) << testing::ReadFile(dir.path() / "state.log");
    auto apply = testing::Run("JB_STATE_DIR=" + state.string() + " " + testing::Jbctl() + " apply -f manifests/vqa/");
    ASSERT_EQ(apply.exit_code, 0) << apply.output;
    EXPECT_NE(apply.output.find("workflow/vqa created"), std::string::npos) << apply.output;
    auto t0 = Clock::now();
    std::optional<Object> wf;
    testing::WaitFor(
        [&] {
          wf = GetObject(c, "workflows/vqa");
          return wf && Planned(*wf);
        },
        std::chrono::seconds(10));
    double secs = std::chrono::duration<double>(Clock::now() - t0).count();
    ASSERT_TRUE(wf && Planned(*wf));
    EXPECT_LT(secs, kPlannedWithinS) << "Planned=True took " << secs << " s";
    std::printf("apply -> Planned=True in %.3f s\n", secs);
    EXPECT_LE(std::get<Workflow>(*wf).status.plan->cost.total_per_hour, 7.011);
    auto describe = testing::Run("JB_STATE_DIR=" + state.string() + " " + testing::Jbctl() + " describe workflow vqa");
    EXPECT_EQ(describe.exit_code, 0);
    EXPECT_NE(describe.output.find("Planned    True"), std::string::npos) << describe.output;
    EXPECT_NE(describe.output.find("Events:"), std::string::npos) << describe.output;
    EXPECT_NE(describe.output.find("Normal   Solved"), std::string::npos) << describe.output;
    auto diff = testing::Run("JB_STATE_DIR=" + state.string() + " " + testing::Jbctl() + " diff -f manifests/vqa/");
    EXPECT_EQ(diff.exit_code, 0) << diff.output;
    // A local edit shows up in diff (exit 1) and get -o yaml reads the server's copy.
    std::string wf_yaml = testing::ReadFile(std::string(JB_SOURCE_DIR) + "/manifests/vqa/workflow.yaml");
    wf_yaml.replace(wf_yaml.find("minAccuracy: 56"), 15, "minAccuracy: 55");
    std::ofstream(dir.path() / "edited.yaml") << wf_yaml;
    diff = testing::Run("JB_STATE_DIR=" + state.string() + " " + testing::Jbctl() + " diff -f " +
                        (dir.path() / "edited.yaml").string());
    EXPECT_EQ(diff.exit_code, 1) << diff.output;
    EXPECT_NE(diff.output.find("\n+    minAccuracy: 55\n"), std::string::npos) << diff.output;  // diff -u hunks
    auto get = testing::Run("JB_STATE_DIR=" + state.string() + " " + testing::Jbctl() + " get workflow vqa -o yaml");
    EXPECT_EQ(get.exit_code, 0);
    EXPECT_NE(get.output.find("minAccuracy: 56"), std::string::npos) << get.output;
    EXPECT_NE(get.output.find("observedGeneration: 1"), std::string::npos) << get.output;
    for (const char* kind : {"workflows", "modelprofiles", "infrastructures"}) {
      auto list = HttpCall(c, "GET", kApi + kind);
      ASSERT_TRUE(list.ok());
      auto docs = ParseYamlStream(list->body);
      for (const auto& item : docs[0].root.Find("items")->items())
        versions[std::string(kind) + "/" + item.Find("metadata")->Find("name")->as_string()] =
            item.Find("metadata")->Find("resourceVersion")->as_string();
    }
    EXPECT_EQ(versions.size(), 5u);
    EXPECT_EQ(d.Stop(), 0) << "SIGTERM must drain and exit 0";
  }
  Daemon again(state, {}, {"--driver", "fake"});
  ASSERT_TRUE(again.WaitReady(&c));
  for (const auto& [path, rv] : versions) {
    auto o = GetObject(c, path);
    ASSERT_TRUE(o.has_value()) << path;
    EXPECT_EQ(MetaOf(*o).resource_version, rv) << path;
  }
  auto wf = GetObject(c, "workflows/vqa");
  ASSERT_TRUE(wf && Planned(*wf));
  // Delete: the finalizer stops the workers, then the object goes.
  auto del = testing::Run("JB_STATE_DIR=" + state.string() + " " + testing::Jbctl() + " delete workflow vqa");
  EXPECT_EQ(del.exit_code, 0) << del.output;
  testing::WaitFor([&] { return !GetObject(c, "workflows/vqa").has_value(); }, std::chrono::seconds(10));
  EXPECT_FALSE(GetObject(c, "workflows/vqa").has_value());
  EXPECT_EQ(again.Stop(), 0);
}

TEST(Daemon, RejectsBadTokensStaleVersionsAndMalformedManifests) {
  testing::TempDir dir;
  Daemon d(dir.path() / "state", {}, {"--driver", "fake"});
  HttpClientOptions c;
  ASSERT_TRUE(d.WaitReady(&c));
  HttpClientOptions wrong = c;
  wrong.token = "not-the-token-not-the-token-0000";
  EXPECT_EQ(HttpCall(wrong, "GET", kApi + "workflows")->status, 401);
  HttpClientOptions none = c;
  none.token.clear();
  EXPECT_EQ(HttpCall(none, "GET", kApi + "workflows")->status, 401);
  EXPECT_EQ(HttpCall(none, "GET", "/healthz")->status, 200);
  // Plain HTTP against the TLS port fails; a client that does not trust our CA fails.
  HttpClientOptions untrusted = c;
  untrusted.ca_file.clear();
  EXPECT_FALSE(HttpCall(untrusted, "GET", "/healthz").ok());

  std::string bad = testing::ReadFile(std::string(JB_SOURCE_DIR) + "/tests/golden/validate/41-json-document.yaml");
  auto r = HttpCall(c, "PUT", kApi + "modelprofiles/json-profile", bad);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->status, 400);
  EXPECT_NE(r->body.find("request body:4:56: spec.variants[0].outputSizeKiB: wrong type"), std::string::npos)
      << r->body;
  EXPECT_EQ(HttpCall(c, "GET", kApi + "pipelines")->status, 404);
  EXPECT_EQ(HttpCall(c, "PUT", kApi + "modelprofiles/x", std::string(5 << 20, 'a'))->status, 413);

  auto docs = LoadPath(std::string(JB_SOURCE_DIR) + "/manifests/vqa/modelprofiles.yaml");
  Object mp = *docs[0].object;
  auto created = HttpCall(c, "PUT", kApi + "modelprofiles/" + MetaOf(mp).name, ObjectToJson(mp));
  ASSERT_EQ(created->status, 201);
  MetaOf(mp).resource_version = "999999";
  EXPECT_EQ(HttpCall(c, "PUT", kApi + "modelprofiles/" + MetaOf(mp).name, ObjectToJson(mp))->status, 409);
  EXPECT_EQ(d.Stop(), 0);
}

// 10 clients x 10 read-modify-write updates of one object, with resourceVersion and retry on 409:
// every update must land (no lost update) and be persisted.
TEST(Daemon, ConcurrentAppliesLoseNoUpdate) {
  testing::TempDir dir;
  auto state = dir.path() / "state";
  HttpClientOptions c;
  {
    Daemon d(state, {}, {"--driver", "fake"});
    ASSERT_TRUE(d.WaitReady(&c));
    auto docs = LoadPath(std::string(JB_SOURCE_DIR) + "/manifests/vqa/modelprofiles.yaml");
    Object mp = *docs[0].object;
    MetaOf(mp).labels["count"] = "0";
    const std::string path = kApi + "modelprofiles/" + MetaOf(mp).name;
    ASSERT_EQ(HttpCall(c, "PUT", path, ObjectToJson(mp))->status, 201);
    std::atomic<int> conflicts{0}, failures{0};
    std::vector<std::thread> clients;
    for (int t = 0; t < 10; ++t)
      clients.emplace_back([&, t] {
        for (int i = 0; i < 10; ++i) {
          for (int attempt = 0; attempt < 200; ++attempt) {
            auto cur = GetObject(c, "modelprofiles/" + MetaOf(mp).name);
            if (!cur) continue;
            int n = std::stoi(MetaOf(*cur).labels["count"]);
            MetaOf(*cur).labels["count"] = std::to_string(n + 1);
            MetaOf(*cur).labels["client-" + std::to_string(t)] = std::to_string(i);
            auto r = HttpCall(c, "PUT", path, ObjectToJson(*cur));
            if (r.ok() && r->status == 200) break;
            if (r.ok() && r->status == 409) {
              conflicts++;
              continue;
            }
            failures++;
          }
        }
      });
    for (auto& t : clients) t.join();
    EXPECT_EQ(failures.load(), 0);
    auto final_obj = GetObject(c, "modelprofiles/" + MetaOf(mp).name);
    ASSERT_TRUE(final_obj.has_value());
    EXPECT_EQ(MetaOf(*final_obj).labels["count"], "100");
    std::printf("100 concurrent updates from 10 clients: %d conflicts retried\n", conflicts.load());
    EXPECT_EQ(d.Stop(), 0);
  }
  Daemon again(state, {}, {"--driver", "fake"});
  ASSERT_TRUE(again.WaitReady(&c));
  auto reloaded = GetObject(c, "modelprofiles/extract-image-feature");
  ASSERT_TRUE(reloaded.has_value());
  EXPECT_EQ(MetaOf(*reloaded).labels["count"], "100");
}

// sd_notify protocol against a fake NOTIFY_SOCKET: READY, WATCHDOG cadence, RELOADING, STOPPING.
TEST(Daemon, NotifiesSystemd) {
  testing::TempDir dir;
  std::string sock = (dir.path() / "notify.sock").string();
  int fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(fd, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, sock.c_str(), sizeof(addr.sun_path) - 1);
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  timeval tv{0, 100000};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  std::vector<std::pair<Clock::time_point, std::string>> got;
  auto wait_for = [&](const std::string& what, std::chrono::seconds limit) {
    auto deadline = Clock::now() + limit;
    while (Clock::now() < deadline) {
      char buf[4096];
      ssize_t n = ::recv(fd, buf, sizeof(buf), 0);
      if (n <= 0) continue;
      got.emplace_back(Clock::now(), std::string(buf, static_cast<size_t>(n)));
      if (got.back().second.find(what) != std::string::npos) return true;
    }
    return false;
  };
  Daemon d(dir.path() / "state", {"NOTIFY_SOCKET=" + sock, "WATCHDOG_USEC=400000"}, {"--driver", "fake"});
  ASSERT_TRUE(wait_for("READY=1", std::chrono::seconds(20)));
  EXPECT_NE(got.back().second.find("STATUS=serving https://127.0.0.1:"), std::string::npos) << got.back().second;
  // Watchdog pings at half of WATCHDOG_USEC (200 ms).
  ASSERT_TRUE(wait_for("WATCHDOG=1", std::chrono::seconds(5)));
  auto first = got.back().first;
  ASSERT_TRUE(wait_for("WATCHDOG=1", std::chrono::seconds(5)));
  double gap = std::chrono::duration<double>(got.back().first - first).count();
  EXPECT_GT(gap, 0.1);
  EXPECT_LT(gap, 1.0);  // 200 ms cadence; generous for loaded CI machines
  d.Signal(SIGHUP);
  ASSERT_TRUE(wait_for("RELOADING=1", std::chrono::seconds(5)));
  ASSERT_TRUE(wait_for("READY=1", std::chrono::seconds(5)));
  d.Signal(SIGTERM);
  ASSERT_TRUE(wait_for("STOPPING=1", std::chrono::seconds(5)));
  EXPECT_EQ(d.Stop(), 0);
  ::close(fd);
}

TEST(Daemon, RefusesPlainHttpOffLoopbackAndBadConfig) {
  testing::TempDir dir;
  auto r = testing::Run(std::string(JB_JELLYBEAND) + " --state-dir " + dir.path().string() +
                        " --listen 0.0.0.0:0 --insecure-plain-http 2>&1");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.output.find("only allowed on a loopback address"), std::string::npos) << r.output;
  std::ofstream(dir.path() / "cfg.yaml") << "listen: 127.0.0.1:0\nlistenn: typo\n";
  r = testing::Run(std::string(JB_JELLYBEAND) + " --config " + (dir.path() / "cfg.yaml").string() + " 2>&1");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.output.find("cfg.yaml:2:1: listenn: unknown key"), std::string::npos) << r.output;
}

TEST(Daemon, TokenFileIsPrivate) {
  testing::TempDir dir;
  Daemon d(dir.path() / "state", {}, {"--driver", "fake"});
  HttpClientOptions c;
  ASSERT_TRUE(d.WaitReady(&c));
  struct stat st {};
  ASSERT_EQ(::stat((dir.path() / "state/token").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_EQ(d.Stop(), 0);
}

TEST(Daemon, OneDaemonPerStateDirectoryAndACleanStopLeavesNoEndpoint) {
  testing::TempDir dir;
  Daemon d(dir.path() / "state", {}, {"--driver", "fake"});
  HttpClientOptions c;
  ASSERT_TRUE(d.WaitReady(&c));
  auto r = testing::Run(std::string(JB_JELLYBEAND) + " --state-dir " + (dir.path() / "state").string() +
                        " --listen 127.0.0.1:0 --driver fake 2>&1");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.output.find("state directory " + (dir.path() / "state").string() + " is in use by PID " +
                          std::to_string(d.pid())),
            std::string::npos)
      << r.output;
  EXPECT_TRUE(std::filesystem::exists(dir.path() / "state/endpoint"));  // the first one still serves
  EXPECT_EQ(d.Stop(), 0);
  EXPECT_FALSE(std::filesystem::exists(dir.path() / "state/endpoint"));
}

TEST(Packaging, SystemdUnitsVerifyCleanly) {
  if (std::system("command -v systemd-analyze >/dev/null 2>&1") != 0)
    GTEST_SKIP() << "systemd-analyze is not installed";
  testing::TempDir dir;
  for (const auto& [file, packaged, built] :
       {std::tuple<std::string, std::string, std::string>{"jellybeand.service", "/usr/bin/jellybeand", JB_JELLYBEAND},
        {"jellybean-agent.service", "/usr/bin/jellybean-agent", JB_AGENT}}) {
    std::string unit = testing::ReadFile(std::string(JB_SOURCE_DIR) + "/packaging/systemd/" + file);
    ASSERT_FALSE(unit.empty()) << file;
    // Point ExecStart at the binary we just built (the packaged path does not exist here).
    auto pos = unit.find("ExecStart=" + packaged);
    ASSERT_NE(pos, std::string::npos) << file;
    unit.replace(pos, std::string("ExecStart=" + packaged).size(), "ExecStart=" + built);
    std::ofstream(dir.path() / file) << unit;
    auto r = testing::Run("systemd-analyze verify " + (dir.path() / file).string() + " 2>&1");
    EXPECT_EQ(r.exit_code, 0) << file << ": " << r.output;
    EXPECT_EQ(r.output, "") << file << ": systemd-analyze printed warnings";
  }
}

}  // namespace
}  // namespace jb

namespace jb {
namespace {

// jbctl plan --what-if shows what a change would do without applying it; applying it re-plans;
// jbctl rollout history lists both plans and jbctl rollout undo brings the first one back.
TEST(Daemon, WhatIfHistoryAndUndo) {
  testing::TempDir dir;
  auto state = dir.path() / "state";
  Daemon d(state, {}, {"--driver", "fake", "--replan-min-interval", "0"});
  HttpClientOptions c;
  ASSERT_TRUE(d.WaitReady(&c)) << testing::ReadFile(dir.path() / "state.log");
  std::string jb = "JB_STATE_DIR=" + state.string() + " " + testing::Jbctl();
  ASSERT_EQ(testing::Run(jb + " apply -f manifests/vqa/").exit_code, 0);
  auto epoch = [&] {
    auto o = GetObject(c, "workflows/vqa");
    const auto* wf = o ? &std::get<Workflow>(*o) : nullptr;
    return wf && !wf->status.rollout ? wf->status.plan_epoch.value_or(0) : 0;
  };
  auto wait_epoch = [&](int64_t want) {
    return testing::WaitFor([&] { return epoch() == want; }, std::chrono::seconds(20));
  };
  ASSERT_TRUE(wait_epoch(1));

  // The cloud at a tenth of its price: the what-if plan moves work to the cloud and saves 12.7%.
  std::string infra = testing::ReadFile("manifests/vqa/infrastructure.yaml");
  for (const char* price : {"2.305", "2.497"}) {  // the cloud tier's nodes
    std::string from = std::string("pricePerHour: ") + price + "\n";
    for (auto at = infra.find(from); at != std::string::npos; at = infra.find(from))
      infra.replace(at, from.size(), "pricePerHour: " + std::to_string(std::atof(price) / 10) + "\n");
  }
  std::ofstream(dir.path() / "cheap-cloud.yaml") << infra;
  auto whatif = testing::Run(jb + " plan --what-if -f " + (dir.path() / "cheap-cloud.yaml").string());
  ASSERT_EQ(whatif.exit_code, 0) << whatif.output;
  EXPECT_NE(whatif.output.find("the daemon would roll this plan out"), std::string::npos) << whatif.output;
  EXPECT_NE(whatif.output.find("nothing was applied"), std::string::npos);
  EXPECT_NE(whatif.output.find("+  workflow-compute-cpu-6"), std::string::npos) << whatif.output;
  // Nothing may change: no new epoch appears within 300 ms (a rollout would start within that).
  EXPECT_FALSE(testing::WaitFor([&] { return epoch() != 1; }, std::chrono::milliseconds(300)))
      << "what-if must not apply anything";
  EXPECT_EQ(epoch(), 1);

  // Applied for real: epoch 2, then undo brings epoch 1's plan back as epoch 3.
  ASSERT_EQ(testing::Run(jb + " apply -f " + (dir.path() / "cheap-cloud.yaml").string()).exit_code, 0);
  ASSERT_TRUE(wait_epoch(2));
  auto hist = testing::Run(jb + " rollout history workflow vqa");
  ASSERT_EQ(hist.exit_code, 0);
  EXPECT_NE(hist.output.find("initial"), std::string::npos) << hist.output;
  EXPECT_NE(hist.output.find("Infrastructure"), std::string::npos) << hist.output;
  auto undo = testing::Run(jb + " rollout undo workflow vqa");
  ASSERT_EQ(undo.exit_code, 0) << undo.output;
  ASSERT_TRUE(wait_epoch(3)) << "undo was not rolled out";
  auto o = GetObject(c, "workflows/vqa");
  ASSERT_TRUE(o);
  const auto& wf = std::get<Workflow>(*o);
  ASSERT_EQ(wf.status.history.size(), 3u);
  EXPECT_EQ(wf.status.history[2].trigger, "undo");
  EXPECT_EQ(wf.status.history[2].plan.placements, wf.status.history[0].plan.placements);
  // An epoch that is not in the history is refused.
  auto bad = testing::Run(jb + " rollout undo workflow vqa --to-epoch 99 2>&1");
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_NE(bad.output.find("no plan revision with epoch 99"), std::string::npos) << bad.output;
}

}  // namespace
}  // namespace jb

namespace jb {
namespace {

// Under systemd the secrets arrive as credentials (LoadCredential= in the unit): the daemon serves
// with $CREDENTIALS_DIRECTORY/token and tls.crt/tls.key, and writes no token or pair of its own.
TEST(Daemon, ServesWithTheSecretsSystemdHandsItAsCredentials) {
  namespace fs = std::filesystem;
  using testing::Daemon;
  testing::TempDir dir;
  fs::path creds = dir.path() / "creds";
  DaemonConfig other;
  other.state_dir = (dir.path() / "issuer").string();
  ASSERT_TRUE(EnsureTls(&other).ok());
  fs::create_directories(creds);
  fs::copy_file(other.tls_cert, creds / "tls.crt");
  fs::copy_file(other.tls_key, creds / "tls.key");
  const std::string token = "credential-token-0123456789abcdef";
  std::ofstream(creds / "token") << token << "\n";
  for (const char* f : {"token", "tls.crt", "tls.key"}) ::chmod((creds / f).c_str(), 0400);  // as systemd makes them

  fs::path state = dir.path() / "state";
  Daemon d(state, {"CREDENTIALS_DIRECTORY=" + creds.string()}, {"--driver", "fake"});
  HttpClientOptions c;
  c.ca_file = (dir.path() / "issuer/tls/ca.crt").string();
  c.token = token;
  c.timeout_s = 5;
  ASSERT_TRUE(testing::WaitFor(
      [&] {
        c.server = testing::ReadFile(state / "endpoint");
        while (!c.server.empty() && c.server.back() == '\n') c.server.pop_back();
        if (c.server.empty()) return false;
        auto r = HttpCall(c, "GET", "/readyz");
        return r.ok() && r->status == 200;
      },
      std::chrono::seconds(20)))
      << testing::ReadFile(dir.path() / "state.log");
  EXPECT_FALSE(fs::exists(state / "token")) << "the credential is the token";
  EXPECT_FALSE(fs::exists(state / "tls/server.key")) << "the credential is the TLS pair";
  EXPECT_EQ(d.Stop(), 0);
}

}  // namespace
}  // namespace jb

namespace jb {
namespace {

// Issue 18, end to end: `jbctl apply` to an object of the watched manifest directory is refused
// naming its file; `--force` takes it over and says so; an edit of another file no longer
// reverts it.
TEST(Daemon, JbctlApplyToAFileOwnedObjectIsRefusedUnlessForced) {
  namespace fs = std::filesystem;
  testing::TempDir dir;
  fs::path m = dir.path() / "manifests";
  fs::create_directories(m);
  for (const char* f : {"infrastructure.yaml", "modelprofiles.yaml", "workflow.yaml"})
    fs::copy_file(fs::path(JB_SOURCE_DIR) / "manifests/vqa" / f, m / f);
  fs::path state = dir.path() / "state";
  testing::Daemon d(state, {}, {"--driver", "fake", "--manifest-dir", m.string()});
  HttpClientOptions c;
  ASSERT_TRUE(d.WaitReady(&c)) << testing::ReadFile(dir.path() / "state.log");
  ASSERT_TRUE(
      testing::WaitFor([&] { return testing::GetObject(c, "workflows/vqa").has_value(); }, std::chrono::seconds(10)));
  std::string wf = testing::ReadFile(m / "workflow.yaml");
  wf.replace(wf.find("minAccuracy: 56"), 15, "minAccuracy: 50");
  std::ofstream(dir.path() / "mine.yaml") << wf;
  const std::string jbctl = "JB_STATE_DIR=" + state.string() + " " + testing::Jbctl();
  const std::string owner = fs::absolute(m / "workflow.yaml").string();

  auto refused = testing::Run(jbctl + " apply -f " + (dir.path() / "mine.yaml").string() + " 2>&1");
  EXPECT_EQ(refused.exit_code, 1) << refused.output;
  EXPECT_NE(refused.output.find("HTTP 409: Workflow/vqa is owned by the manifest file " + owner), std::string::npos)
      << refused.output;
  auto forced = testing::Run(jbctl + " apply --force -f " + (dir.path() / "mine.yaml").string() + " 2>&1");
  EXPECT_EQ(forced.exit_code, 0) << forced.output;
  EXPECT_NE(forced.output.find("workflow/vqa configured (taken over from the manifest file " + owner),
            std::string::npos)
      << forced.output;
  auto floor = [&] {
    auto got = testing::GetObject(c, "workflows/vqa");
    return got ? std::get<Workflow>(*got).spec.slo.min_accuracy : -1.0;
  };
  EXPECT_EQ(floor(), 50);
  // Another file of the directory changes (a label on a profile) and is applied; the Workflow
  // stays as forced.
  std::string mp = testing::ReadFile(m / "modelprofiles.yaml");
  mp.replace(mp.find("  name: extract-image-feature\n"), 30,
             "  name: extract-image-feature\n  labels:\n    edited: \"yes\"\n");
  std::ofstream(m / "modelprofiles.yaml", std::ios::trunc) << mp;
  ASSERT_TRUE(testing::WaitFor(
      [&] {
        auto got = testing::GetObject(c, "modelprofiles/extract-image-feature");
        return got && MetaOf(*got).labels.count("edited") == 1;
      },
      std::chrono::seconds(10)));
  EXPECT_EQ(floor(), 50);
  auto again = testing::Run(jbctl + " apply -f " + (dir.path() / "mine.yaml").string() + " 2>&1");
  EXPECT_EQ(again.exit_code, 0) << "the API owns it now: " << again.output;
  EXPECT_EQ(floor(), 50);
  EXPECT_EQ(d.Stop(), 0);
}

}  // namespace
}  // namespace jb
