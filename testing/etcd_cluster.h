// Test and benchmark helper: an etcd cluster of Debian's /usr/bin/etcd (3.4) members on free
// loopback ports (never 2379/2380, the packaged service's), data in a temp dir, each member killed
// by its PID (SIGKILL) in the destructor. Optionally TLS with client-certificate auth (certificates
// made with the openssl CLI into the temp dir; the client key is mode 0600).
// Header-only, free of GoogleTest. Needs JB_SOURCE_DIR (testing/util.h).
#pragma once

#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "testing/util.h"

namespace jb::testing {

// A port that was free a moment ago (bound to port 0, then released).
inline int FreeLoopbackPort() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  int port = -1;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 &&
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0)
    port = ntohs(a.sin_port);
  ::close(fd);
  return port;
}

class EtcdCluster {
 public:
  struct Options {
    int members = 1;
    bool tls = false;  // https clients, --client-cert-auth
  };
  explicit EtcdCluster(Options o) : opts_(o) {
    for (int i = 0; i < o.members; ++i) {
      int c = FreeLoopbackPort(), p = FreeLoopbackPort();
      while (c == 2379 || c == 2380 || p == 2379 || p == 2380 || p == c) c = FreeLoopbackPort(), p = FreeLoopbackPort();
      client_.push_back(c);
      peer_.push_back(p);
    }
    pids_.assign(static_cast<size_t>(o.members), -1);
    if (o.tls) MakeCerts();
    for (int i = 0; i < o.members; ++i) Start(i, "new");
  }
  ~EtcdCluster() {
    for (int i = 0; i < static_cast<int>(pids_.size()); ++i) Kill(i);
  }
  EtcdCluster(const EtcdCluster&) = delete;
  EtcdCluster& operator=(const EtcdCluster&) = delete;

  std::string Endpoint(int i) const {
    return std::string(opts_.tls ? "https" : "http") +
           "://127.0.0.1:" + std::to_string(client_[static_cast<size_t>(i)]);
  }
  // "URL,URL,..." of every member.
  std::string Endpoints() const {
    std::string s;
    for (int i = 0; i < opts_.members; ++i) s += (i ? "," : "") + Endpoint(i);
    return s;
  }
  // The daemon's --store value for this cluster, with `prefix`.
  std::string StoreSpec(const std::string& prefix) const {
    std::string s = "etcd:" + Endpoints() + "?prefix=" + prefix;
    if (opts_.tls) s += "&cacert=" + File("ca.crt") + "&cert=" + File("client.crt") + "&key=" + File("client.key");
    return s;
  }
  std::string File(const std::string& name) const { return (dir_.path() / name).string(); }

  // Every member answers `etcdctl endpoint health` within `limit`.
  bool WaitHealthy(std::chrono::milliseconds limit = std::chrono::seconds(20)) const {
    return WaitFor([&] { return Etcdctl("endpoint health").exit_code == 0; }, limit);
  }
  CommandResult Etcdctl(const std::string& args) const {
    std::string tls =
        opts_.tls ? " --cacert " + File("ca.crt") + " --cert " + File("client.crt") + " --key " + File("client.key")
                  : "";
    return Run("ETCDCTL_API=3 etcdctl --command-timeout=2s --endpoints=" + Endpoints() + tls + " " + args + " 2>&1");
  }
  void Kill(int i) {
    pid_t& pid = pids_[static_cast<size_t>(i)];
    if (pid <= 0) return;
    ::kill(pid, SIGKILL);
    ::waitpid(pid, nullptr, 0);
    pid = -1;
  }
  // Restarts a killed member on the same ports and data dir.
  void Restart(int i) { Start(i, "existing"); }
  pid_t pid(int i) const { return pids_[static_cast<size_t>(i)]; }
  int members() const { return opts_.members; }

 private:
  void Start(int i, const std::string& state) {
    const size_t k = static_cast<size_t>(i);
    std::string name = "m" + std::to_string(i), peer = "http://127.0.0.1:" + std::to_string(peer_[k]);
    std::string cluster;
    for (int j = 0; j < opts_.members; ++j)
      cluster += (j ? "," : "") + ("m" + std::to_string(j)) +
                 "=http://127.0.0.1:" + std::to_string(peer_[static_cast<size_t>(j)]);
    std::vector<std::string> args = {"/usr/bin/etcd",
                                     "--name",
                                     name,
                                     "--data-dir",
                                     File(name),
                                     "--listen-client-urls",
                                     Endpoint(i),
                                     "--advertise-client-urls",
                                     Endpoint(i),
                                     "--listen-peer-urls",
                                     peer,
                                     "--initial-advertise-peer-urls",
                                     peer,
                                     "--initial-cluster",
                                     cluster,
                                     "--initial-cluster-state",
                                     state,
                                     "--initial-cluster-token",
                                     "jbtest",
                                     "--logger",
                                     "zap",
                                     "--log-outputs",
                                     "stderr",
                                     "--heartbeat-interval",
                                     "50",
                                     "--election-timeout",
                                     "500"};
    if (opts_.tls)
      for (const char* a : {"--cert-file", "server.crt", "--key-file", "server.key", "--trusted-ca-file", "ca.crt"})
        args.push_back(a[0] == '-' ? a : File(a));
    if (opts_.tls) args.push_back("--client-cert-auth");
    pids_[k] = SpawnLogged(args, File(name + ".log"));
  }
  void MakeCerts() {
    std::string d = dir_.path().string();
    Run("(cd " + d +
        " && openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.crt -days 2 -subj /CN=jbtest-etcd-ca"
        " && openssl req -newkey rsa:2048 -nodes -keyout server.key -out server.csr -subj /CN=etcd"
        " && printf 'subjectAltName=IP:127.0.0.1\\nextendedKeyUsage=serverAuth,clientAuth\\n' > server.ext"
        " && openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out server.crt -days 2 "
        "-extfile server.ext"
        " && openssl req -newkey rsa:2048 -nodes -keyout client.key -out client.csr -subj /CN=jellybeand"
        " && printf 'extendedKeyUsage=clientAuth\\n' > client.ext"
        " && openssl x509 -req -in client.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out client.crt -days 2 "
        "-extfile client.ext && chmod 0600 client.key client.crt) >/dev/null 2>&1");
  }

  Options opts_;
  TempDir dir_;
  std::vector<int> client_, peer_;
  std::vector<pid_t> pids_;
};

}  // namespace jb::testing
