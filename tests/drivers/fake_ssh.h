// What the ssh driver's tests share: a stand-in `ssh` that runs the driver's remote command on
// this machine (the "remote" node directory is a temp dir), so the driver's remote scripts run
// for real with the real jellybean-worker, as a non-root user and without the network lab; and a
// one-worker config to deploy with it.
#pragma once

#include <string>

#include "api/worker_config.h"

namespace jb::testing {

// Runs the last argument (the driver's "sh -c '...'" command) here; `-O exit` (closing the
// multiplexed connection) has nothing to close.
inline constexpr const char* kFakeSsh = R"SH(#!/bin/sh
for a; do last=$a; done
case " $* " in *" -O exit "*) exit 0;; esac
exec sh -c "$last"
)SH";

// Worker "io" of workflow "wf" on node edge1 (tier edge): a source of 50 items/s feeding the sink
// directly, listening on `port`.
inline WorkerConfig IoWorker(int port) {
  WorkerConfig c;
  c.workflow = "wf";
  c.name = "io";
  c.node = "edge1";
  c.tier = "edge";
  c.listen = "127.0.0.1:" + std::to_string(port);
  WorkerInstance src;
  src.kind = "source";
  src.name = "S";
  src.rate = 50;
  src.item_kib = 1;
  WorkerInstance sink;
  sink.kind = "sink";
  sink.name = kSinkName;
  c.instances = {src, sink};
  c.edges = {{"S", kSinkName, 1}};
  c.routes = {{kSinkName, 0, 1, "io", c.listen, ""}};
  return c;
}

}  // namespace jb::testing
