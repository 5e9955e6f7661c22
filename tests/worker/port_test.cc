// PickFreePort (api/worker_config.h): the fixed ports drivers give workers come from below the
// kernel's ephemeral range, so no outgoing connection on the host can take one as its local port
// before the worker binds it (the cause of an "Address already in use" seen in CI under load).
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <set>

#include "api/worker_config.h"

namespace jb {
namespace {

bool Listens(int port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  sa.sin_port = htons(static_cast<uint16_t>(port));
  bool ok = fd >= 0 && bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof(sa)) == 0 && listen(fd, 1) == 0;
  if (fd >= 0) close(fd);
  return ok;
}

TEST(PickFreePort, ChoosesBindablePortsBelowTheEphemeralRange) {
  int low = 0, high = 0;
  std::ifstream("/proc/sys/net/ipv4/ip_local_port_range") >> low >> high;
  ASSERT_GT(low, 2048) << "unexpected ip_local_port_range";
  std::set<int> seen;
  for (int i = 0; i < 50; ++i) {
    auto p = PickFreePort();
    ASSERT_TRUE(p.ok()) << p.status().message();
    EXPECT_GE(*p, std::max(1024, low - 16384));
    EXPECT_LT(*p, low) << "a port of the ephemeral range " << low << "-" << high;
    EXPECT_TRUE(Listens(*p)) << *p;
    seen.insert(*p);
  }
  EXPECT_GT(seen.size(), 40u) << "picked at random, not one port again and again";
}

}  // namespace
}  // namespace jb
