// Small socket helpers shared by the worker's inbound and outbound sides.
//
// Thread-safety: stateless.
#pragma once

#include <netinet/in.h>

#include <string>

#include "base/status.h"

namespace jb {

// "host:port" (IPv4, or "localhost") as a socket address; InvalidArgument naming the address.
StatusOr<sockaddr_in> ParseAddress(const std::string& hostport);

}  // namespace jb
