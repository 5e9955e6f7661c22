#include "drivers/agent/agent_logs.h"

#include <openssl/evp.h>

#include <algorithm>

#include "drivers/agent/channel.h"
#include "drivers/local/local_driver.h"

namespace jb {
namespace {

std::string Str(const Value& m, const char* key) {
  const Value* v = m.Find(key);
  return v != nullptr && v->is_string() ? v->as_string() : "";
}

int64_t Int(const Value& m, const char* key, int64_t otherwise) {
  const Value* v = m.Find(key);
  return v != nullptr && v->is_number() ? WireInt(v->as_number()) : otherwise;
}

}  // namespace

std::string Base64Encode(const std::string& bytes) {
  std::string out(4 * ((bytes.size() + 2) / 3) + 1, '\0');
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(bytes.data()), static_cast<int>(bytes.size()));
  out.resize(static_cast<size_t>(std::max(n, 0)));
  return out;
}

StatusOr<std::string> Base64Decode(const std::string& text, size_t max_bytes) {
  // The bound first: base64 of max_bytes is 4 * ceil(max_bytes / 3) characters.
  if (text.size() % 4 != 0) return Status::InvalidArgument("not base64: its length is not a multiple of 4");
  if (text.size() > 4 * ((max_bytes + 2) / 3))
    return Status::InvalidArgument(std::to_string(text.size()) + " characters of base64 are over the limit of " +
                                   std::to_string(max_bytes) + " bytes");
  std::string out(text.size() / 4 * 3, '\0');
  int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(text.data()), static_cast<int>(text.size()));
  if (n < 0) return Status::InvalidArgument("not base64");
  size_t pad = 0;  // EVP_DecodeBlock counts the padding as zero bytes
  for (size_t i = text.size(); i > 0 && pad < 2 && text[i - 1] == '='; --i) ++pad;
  out.resize(static_cast<size_t>(n) - pad);
  if (out.size() > max_bytes)
    return Status::InvalidArgument(std::to_string(out.size()) + " bytes are over the limit of " +
                                   std::to_string(max_bytes));
  return out;
}

Value ServeLogRequests(LocalDriver& local, const Value& reply) {
  Value answers = Value::Seq();
  const Value* reqs = reply.Find("logRequests");
  if (reqs == nullptr || !reqs->is_seq()) return answers;
  size_t served = 0;
  for (const auto& r : reqs->items()) {
    if (++served > kMaxLogRequestsPerAnswer) break;
    const int64_t max = std::clamp<int64_t>(Int(r, "maxBytes", 0), 0, kMaxAgentLogBytes);
    int64_t end = 0;
    auto text =
        local.ReadLog(Str(r, "workflow"), Str(r, "worker"), Int(r, "offset", -1), static_cast<size_t>(max), &end);
    Value a = Value::Map();
    a.Set("id", Value::Integer(Int(r, "id", 0)));
    if (text.ok()) {
      a.Set("data", Value::String(Base64Encode(text->substr(0, static_cast<size_t>(max)))));
      a.Set("end", Value::Integer(end));
    } else {
      a.Set("error", Value::String(text.status().code() == Status::Code::kNotFound ? "not-found" : "unavailable"));
      a.Set("message", Value::String(text.status().message()));
    }
    answers.Append(std::move(a));
  }
  return answers;
}

StatusOr<std::string> DecodeLogAnswer(const Value& answer, size_t max_bytes, int64_t* end) {
  *end = 0;
  const std::string error = Str(answer, "error");
  if (error == "not-found") return Status::NotFound(Str(answer, "message"));
  if (!error.empty()) return Status::Unavailable("the agent could not read the log: " + Str(answer, "message"));
  const Value* data = answer.Find("data");
  if (data == nullptr || !data->is_string()) return Status::InvalidArgument("log answer without data");
  auto bytes = Base64Decode(data->as_string(), max_bytes);
  if (!bytes.ok()) return Status::InvalidArgument("log answer: " + bytes.status().message());
  const int64_t e = Int(answer, "end", -1);
  if (e < static_cast<int64_t>(bytes->size())) return Status::InvalidArgument("log answer with a bad end offset");
  *end = e;
  return bytes;
}

}  // namespace jb
