// One agent poll over the agent channel, for tests: OK, or why the daemon refused it (the error
// code it answered, or the transport's error when the handshake or the connection failed).
#pragma once

#include <string>

#include "drivers/agent/channel.h"

namespace jb::testing {

inline Status PollAgent(const std::string& host, int port, const std::string& ca, const std::string& cert,
                        const std::string& key) {
  auto ch = TlsChannel::Connect(host, port, ca, cert, key, 5);
  if (!ch.ok()) return ch.status();
  Value m = Value::Map();
  m.Set("type", Value::String("poll"));
  if (auto s = (*ch)->Send(m); !s.ok()) return s;
  auto r = (*ch)->Receive(5);
  if (!r.ok()) return r.status();
  if (const Value* e = r->Find("error")) return Status::Unauthenticated(e->as_string());
  return Status::Ok();
}

}  // namespace jb::testing
