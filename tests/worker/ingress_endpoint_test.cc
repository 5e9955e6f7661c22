// IngressEndpoint on its own (worker/ingress_endpoint.h), the test playing the worker's loop.
#include "worker/ingress_endpoint.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>

namespace jb {
namespace {

// A results subscriber that stops reading falls behind by more than its buffer: it gets the final
// line saying it was cut and the stream ends, while the endpoint's memory stays bounded.
TEST(IngressEndpoint, ASlowResultsSubscriberIsCutWithAFinalLine) {
  IngressOptions o;
  o.cfg.plain_http = true;
  o.model = "m";
  o.inputs = {"in"};
  o.output = "out";
  o.results_buffer = 4;
  o.wake = [] {};
  auto e = IngressEndpoint::Start(o);
  ASSERT_TRUE(e.ok()) << e.status().message();
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  int small = 4096;  // a small receive buffer: the server's writes stall soon
  setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
  timeval tv{20, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(static_cast<uint16_t>((*e)->port()));
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof(sa)), 0);
  std::string get = "GET /v2/models/m/results HTTP/1.1\r\nHost: x\r\n\r\n";
  ASSERT_EQ(write(fd, get.data(), get.size()), static_cast<ssize_t>(get.size()));
  char buf[4096];
  std::string got;
  while (got.find("\r\n\r\n") == std::string::npos) {  // subscribed once the head arrives
    ssize_t k = read(fd, buf, sizeof(buf));
    ASSERT_GT(k, 0);
    got.append(buf, static_cast<size_t>(k));
  }
  // 256 answers of 64 KiB: far more than the socket buffers and the subscriber's 4 hold.
  const std::string big(64 << 10, 'x');
  for (int i = 0; i < 256; ++i) (*e)->Publish("r" + std::to_string(i), "out", big);
  // Now read everything: some answers, then the final line, then the end of the stream.
  for (ssize_t k; (k = read(fd, buf, sizeof(buf))) > 0;) got.append(buf, static_cast<size_t>(k));
  close(fd);
  EXPECT_NE(got.find(R"({"error":"this subscriber fell more than 4 answers behind and was cut)"), std::string::npos)
      << got.size();
  EXPECT_EQ(got.find(R"("id":"r255")"), std::string::npos);  // the last answers were not buffered
  EXPECT_NE(got.find("\r\n0\r\n\r\n"), std::string::npos);   // the chunked stream ended
}

}  // namespace
}  // namespace jb
