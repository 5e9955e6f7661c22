#include "daemon/logs_endpoint.h"

#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <thread>

#include "api/value.h"
#include "daemon/api_server_internal.h"
#include "daemon/api_support.h"

namespace jb {
namespace {

std::atomic<int> g_followers{0};

HttpResponse Failure(int code, const std::string& reason, const std::string& message) {
  return api_internal::StatusResponse(code, reason, message);
}

// The logs' own mapping: a driver that cannot fetch logs is 501, anything else unexpected 503.
HttpResponse FromStatus(const Status& s) {
  switch (s.code()) {
    case Status::Code::kNotFound:
      return Failure(404, "NotFound", s.message());
    case Status::Code::kFailedPrecondition:
      return Failure(501, "NotImplemented", s.message());
    case Status::Code::kInvalidArgument:
      return Failure(400, "BadRequest", s.message());
    default:
      return Failure(503, "ServiceUnavailable", s.message());
  }
}

// A non-negative integer parameter up to `max`; nullopt when absent.
StatusOr<std::optional<int64_t>> Count(const std::map<std::string, std::string>& q, const std::string& key,
                                       int64_t max) {
  auto it = q.find(key);
  if (it == q.end()) return std::optional<int64_t>();
  const std::string& v = it->second;
  bool digits = !v.empty() && v.size() <= 18;
  for (char c : v) digits = digits && c >= '0' && c <= '9';
  if (!digits || std::stoll(v) > max)
    return Status::InvalidArgument(key + "=" + v + ": expected a whole number from 0 to " + std::to_string(max));
  return std::optional<int64_t>(std::stoll(v));
}

// The follow stream: what the worker logs after `offset`, in chunks of at most 64 KiB, polled every
// 250 ms; ends when the worker is gone or after an hour. Holds one follower slot until destroyed.
class Follower {
 public:
  Follower(Driver* driver, std::string workflow, std::string worker, int64_t offset)
      : driver_(driver), workflow_(std::move(workflow)), worker_(std::move(worker)), offset_(offset) {}
  ~Follower() { g_followers.fetch_sub(1); }
  Follower(const Follower&) = delete;
  Follower& operator=(const Follower&) = delete;
  bool Next(std::string* chunk, bool gone) {
    if (gone || std::chrono::steady_clock::now() > until_) return false;
    int64_t end = 0;
    auto got = driver_->ReadLog(workflow_, worker_, offset_, 64 << 10, &end);
    if (!got.ok()) return false;  // the worker is gone
    offset_ = end;
    if (got->empty()) std::this_thread::sleep_for(std::chrono::milliseconds(250));  // an empty chunk: asked again
    *chunk = std::move(*got);
    return true;
  }

 private:
  Driver* driver_;
  const std::string workflow_, worker_;
  int64_t offset_;
  const std::chrono::steady_clock::time_point until_ = std::chrono::steady_clock::now() + std::chrono::hours(1);
};

}  // namespace

std::string LastLines(const std::string& text, size_t n) {
  if (n == 0) return "";
  size_t pos = text.size();
  if (pos > 0 && text[pos - 1] == '\n') --pos;  // the final newline ends the last line
  for (size_t lines = 0; pos > 0; --pos)
    if (text[pos - 1] == '\n' && ++lines == n) break;
  return text.substr(pos);
}

HttpResponse ServeWorkerLogs(const HttpRequest& req, const std::string& workflow, const Store& store, Driver* driver) {
  if (req.method != "GET") return Failure(405, "MethodNotAllowed", "logs are read with GET");
  if (!store.Get("Workflow", workflow).ok()) return Failure(404, "NotFound", "workflow \"" + workflow + "\" not found");
  if (driver == nullptr) return Failure(503, "ServiceUnavailable", "this daemon runs no driver");
  const auto q = ParseQuery(req.query);
  auto worker = q.find("worker");
  if (worker == q.end() || worker->second.empty()) {
    std::string names;
    for (const auto& c : driver->Desired(workflow)) names += (names.empty() ? "" : ", ") + c.name;
    return Failure(400, "BadRequest",
                   "name the worker: ?worker=NAME (workflow " + workflow +
                       "'s workers: " + (names.empty() ? "none" : names) + ")");
  }
  auto tail = Count(q, "tailLines", 1000000);
  auto since = Count(q, "sinceBytes", int64_t{1} << 60);
  if (!tail.ok()) return FromStatus(tail.status());
  if (!since.ok()) return FromStatus(since.status());
  const bool follow = q.count("follow") != 0 && (q.at("follow") == "true" || q.at("follow") == "1");
  int64_t end = 0;
  auto text = driver->ReadLog(workflow, worker->second, since->value_or(-1), kMaxLogAnswerBytes, &end);
  if (!text.ok()) return FromStatus(text.status());
  HttpResponse resp{200, "text/plain; charset=utf-8",
                    tail->has_value() ? LastLines(*text, static_cast<size_t>(**tail)) : *text};
  resp.headers.emplace_back("X-Log-Offset", std::to_string(end));
  if (!follow) return resp;
  if (g_followers.fetch_add(1) >= kMaxFollowers) {
    g_followers.fetch_sub(1);
    return Failure(429, "TooManyRequests",
                   std::to_string(kMaxFollowers) + " logs are followed already; try again later or leave out follow");
  }
  auto f = std::make_shared<Follower>(driver, workflow, worker->second, end);
  resp.stream = [f](std::string* chunk, bool gone) { return f->Next(chunk, gone); };
  return resp;
}

}  // namespace jb
