#include "worker/net.h"

#include <arpa/inet.h>

#include <cstdlib>

namespace jb {

StatusOr<sockaddr_in> ParseAddress(const std::string& hostport) {
  auto colon = hostport.rfind(':');
  if (colon == std::string::npos) return Status::InvalidArgument("address \"" + hostport + "\": expected host:port");
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  std::string host = hostport.substr(0, colon);
  if (host == "localhost") host = "127.0.0.1";
  if (inet_pton(AF_INET, host.c_str(), &sa.sin_addr) != 1)
    return Status::InvalidArgument("address \"" + hostport + "\": expected an IPv4 host");
  char* end = nullptr;
  long port = std::strtol(hostport.c_str() + colon + 1, &end, 10);
  if (*end != '\0' || port < 0 || port > 65535)
    return Status::InvalidArgument("address \"" + hostport + "\": bad port");
  sa.sin_port = htons(static_cast<uint16_t>(port));
  return sa;
}

}  // namespace jb

#include <unistd.h>

namespace jb {

bool IsLoopback(const sockaddr_in& sa) { return (ntohl(sa.sin_addr.s_addr) >> 24) == 127; }

Transport::~Transport() {
  if (fd_ >= 0) close(fd_);
}

ssize_t Transport::Read(char* buf, size_t n) { return read(fd_, buf, n); }

ssize_t Transport::Write(const char* buf, size_t n) { return write(fd_, buf, n); }

}  // namespace jb
