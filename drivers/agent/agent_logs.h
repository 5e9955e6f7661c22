// Worker logs over the agent channel (drivers/agent/agent_driver.h): the daemon cannot connect to a
// device, so a log read rides on the long poll.
//   - The daemon's poll answer may carry `logRequests`: [{id, workflow, worker, offset, maxBytes}],
//     at most kMaxLogRequestsPerAnswer, maxBytes at most kMaxAgentLogBytes (a held poll is answered
//     at once when a request is waiting).
//   - The agent reads each from its LocalDriver and sends the answers with its next poll, at once:
//     `logs`: [{id, data (base64), end}] or [{id, error, message}] (error "not-found" or
//     "unavailable"). It serves no more than kMaxLogRequestsPerAnswer requests of one answer and
//     reads no more than min(maxBytes, kMaxAgentLogBytes) bytes for each.
//   - The daemon takes `logs` only in a poll that passed HandlePoll's checks (a verified device
//     certificate, not revoked), only for ids it sent to that device, and refuses an answer whose
//     base64 text or decoded bytes are over the request's bound (checked before decoding).
// Thread-safety: the functions are reentrant.
#pragma once

#include <cstdint>
#include <string>

#include "api/value.h"
#include "base/status.h"

namespace jb {

class LocalDriver;

inline constexpr size_t kMaxAgentLogBytes = 1u << 20;
inline constexpr size_t kMaxLogRequestsPerAnswer = 4;

std::string Base64Encode(const std::string& bytes);
// InvalidArgument for text that is not base64 or decodes to more than `max_bytes`.
StatusOr<std::string> Base64Decode(const std::string& text, size_t max_bytes);

// Agent side: the answers (a sequence for the poll's `logs`) to the `logRequests` of `reply`;
// an empty sequence when it has none.
Value ServeLogRequests(LocalDriver& local, const Value& reply);

// Daemon side: one answer of a poll's `logs` for a request of at most `max_bytes`: the bytes, with
// *end the offset after them; NotFound / Unavailable as the agent said; InvalidArgument for a
// malformed or oversized answer.
StatusOr<std::string> DecodeLogAnswer(const Value& answer, size_t max_bytes, int64_t* end);

}  // namespace jb
