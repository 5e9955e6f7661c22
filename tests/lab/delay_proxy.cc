// jb-delay-proxy: a TCP proxy that holds every byte for a fixed delay in each direction, for the
// test lab (the kernel here has no netem, so link delay is added in user space).
//   jb-delay-proxy --listen HOST:PORT --to HOST:PORT --delay-ms N [--port-file FILE]
// Each accepted connection gets its own upstream connection and two forwarding threads; a
// direction's bytes keep their order and leave N ms after they arrived. --listen with port 0
// picks a free port and writes it to --port-file (atomically) once listening.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <fstream>
#include <mutex>
#include <string>
#include <thread>

namespace {

using Clock = std::chrono::steady_clock;

bool ParseHostPort(const std::string& s, sockaddr_in* sa) {
  auto colon = s.rfind(':');
  if (colon == std::string::npos) return false;
  *sa = {};
  sa->sin_family = AF_INET;
  sa->sin_port = htons(static_cast<uint16_t>(std::atoi(s.c_str() + colon + 1)));
  return inet_pton(AF_INET, s.substr(0, colon).c_str(), &sa->sin_addr) == 1;
}

// Copies `from` to `to`, each chunk `delay` after it was read. Closes `to` for writing at EOF.
void Pump(int from, int to, std::chrono::milliseconds delay) {
  std::mutex mu;
  std::condition_variable cv;
  std::deque<std::pair<Clock::time_point, std::string>> q;
  bool eof = false;
  std::thread writer([&] {
    std::unique_lock<std::mutex> l(mu);
    while (true) {
      cv.wait(l, [&] { return eof || !q.empty(); });
      if (q.empty() && eof) break;
      auto [due, data] = q.front();
      q.pop_front();
      l.unlock();
      std::this_thread::sleep_until(due);
      size_t off = 0;
      while (off < data.size()) {
        ssize_t n = write(to, data.data() + off, data.size() - off);
        if (n <= 0) break;
        off += static_cast<size_t>(n);
      }
      l.lock();
    }
    shutdown(to, SHUT_WR);
  });
  char buf[65536];
  while (true) {
    ssize_t n = read(from, buf, sizeof(buf));
    if (n <= 0) break;
    std::lock_guard<std::mutex> l(mu);
    q.emplace_back(Clock::now() + delay, std::string(buf, static_cast<size_t>(n)));
    cv.notify_one();
  }
  {
    std::lock_guard<std::mutex> l(mu);
    eof = true;
  }
  cv.notify_one();
  writer.join();
}

}  // namespace

int main(int argc, char** argv) {
  std::string listen_at, to, port_file;
  int delay_ms = -1;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string a = argv[i];
    if (a == "--listen")
      listen_at = argv[i + 1];
    else if (a == "--to")
      to = argv[i + 1];
    else if (a == "--delay-ms")
      delay_ms = std::atoi(argv[i + 1]);
    else if (a == "--port-file")
      port_file = argv[i + 1];
    else {
      std::fprintf(stderr, "jb-delay-proxy: unknown flag %s\n", argv[i]);
      return 2;
    }
  }
  sockaddr_in la{}, ta{};
  if (!ParseHostPort(listen_at, &la) || !ParseHostPort(to, &ta) || delay_ms < 0) {
    std::fprintf(stderr, "usage: jb-delay-proxy --listen HOST:PORT --to HOST:PORT --delay-ms N [--port-file FILE]\n");
    return 2;
  }
  signal(SIGPIPE, SIG_IGN);
  int lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int one = 1;
  setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  socklen_t len = sizeof(la);
  if (bind(lfd, reinterpret_cast<sockaddr*>(&la), sizeof(la)) != 0 || listen(lfd, 64) != 0 ||
      getsockname(lfd, reinterpret_cast<sockaddr*>(&la), &len) != 0) {
    std::fprintf(stderr, "jb-delay-proxy: cannot listen on %s: %s\n", listen_at.c_str(), std::strerror(errno));
    return 1;
  }
  if (!port_file.empty()) {
    std::string tmp = port_file + ".tmp";
    std::ofstream(tmp) << ntohs(la.sin_port) << "\n";
    std::rename(tmp.c_str(), port_file.c_str());
  }
  auto delay = std::chrono::milliseconds(delay_ms);
  while (true) {
    int c = accept4(lfd, nullptr, nullptr, SOCK_CLOEXEC);
    if (c < 0) continue;
    std::thread([c, ta, delay] {
      int u = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
      int flag = 1;
      setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &flag, sizeof(flag));
      setsockopt(u, IPPROTO_TCP, TCP_NODELAY, &flag, sizeof(flag));
      if (connect(u, reinterpret_cast<const sockaddr*>(&ta), sizeof(ta)) != 0) {
        close(c);
        close(u);
        return;
      }
      std::thread back([c, u, delay] { Pump(u, c, delay); });
      Pump(c, u, delay);
      back.join();
      close(c);
      close(u);
    }).detach();
  }
}
