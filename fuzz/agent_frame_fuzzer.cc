// Fuzz target: the body of an agent channel frame (drivers/agent/channel.h, DecodeAgentMessage).
// The daemon decodes it from any client that completed a TLS handshake, before any registration
// or certificate check, so every byte here is attacker-controlled. The 4-byte length in front of
// the body is checked against kMaxAgentFrame before the body is read; the input here is the body.
// The texts nested in messages are decoded too, as their receivers do: a poll's
// states[].metrics (ParseWorkerMetrics, in the daemon) and a reply's workflows[].configs[]
// (ParseWorkerConfig, in the agent).
// Property beyond "no crash, no sanitizer report": a message decodes to what the sender encoded
// (Send writes ToJson of the message), so ToJson of a decoded message decodes to itself.
#include <cstddef>
#include <cstdint>
#include <string>

#include "api/value.h"
#include "api/worker_config.h"
#include "drivers/agent/channel.h"
#include "fuzz/fuzz_check.h"

namespace {

// Calls `fn` with every string at msg[list][i][inner] and in the list msg[list][i][inner][j].
template <class Fn>
void ForEachNested(const jb::Value& msg, const char* list, const char* inner, Fn fn) {
  const jb::Value* items = msg.Find(list);
  if (items == nullptr || !items->is_seq()) return;
  for (const auto& it : items->items()) {
    const jb::Value* v = it.Find(inner);
    if (v == nullptr) continue;
    if (v->is_string()) fn(v->as_string());
    if (v->is_seq())
      for (const auto& s : v->items())
        if (s.is_string()) fn(s.as_string());
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > jb::kMaxAgentFrame) return 0;  // Receive refuses the frame before reading its body
  const std::string body(reinterpret_cast<const char*>(data), size);
  auto msg = jb::DecodeAgentMessage(body);
  if (!msg.ok()) return 0;
  jb::fuzz::Check(msg->is_map(), "decoded agent message is not an object");
  const std::string sent = jb::ToJson(*msg);
  auto back = jb::DecodeAgentMessage(sent);
  if (!back.ok())
    jb::fuzz::Fail("message as sent does not decode: " + back.status().message() + "\n--- sent:\n" + sent);
  const std::string again = jb::ToJson(*back);
  jb::fuzz::Check(again == sent, "message changes on the wire\n--- sent:\n" + sent + "\n--- received:\n" + again);
  ForEachNested(*msg, "states", "metrics", [](const std::string& t) { (void)jb::ParseWorkerMetrics(t, "metrics"); });
  ForEachNested(*msg, "workflows", "configs", [](const std::string& t) { (void)jb::ParseWorkerConfig(t, "config"); });
  return 0;
}
