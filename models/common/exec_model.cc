#include "models/common/exec_model.h"

#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <exception>
#include <string>

namespace jb::exec {
namespace {

bool WriteAll(int fd, const std::string& bytes) {
  size_t at = 0;
  while (at < bytes.size()) {
    ssize_t n = write(fd, bytes.data() + at, bytes.size() - at);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    at += static_cast<size_t>(n);
  }
  return true;
}

class Session {
 public:
  Session(std::string_view hello, const Handler& handler, const ServeOptions& o)
      : hello_(hello), handler_(handler), o_(o), dec_(Framing::kAuto, o.limits) {}

  int Run() {
    char buf[65536];
    for (;;) {
      ssize_t n = read(o_.in_fd, buf, sizeof(buf));
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) {
        std::perror("exec model: read");
        return 1;
      }
      if (n == 0) break;
      dec_.Feed(buf, static_cast<size_t>(n));
      for (;;) {
        auto next = dec_.Next();
        if (!next.ok()) return LostFraming(next.status());
        if (!next->has_value()) break;
        if (!Serve(**next)) return 1;
      }
    }
    if (dec_.buffered() > 0) {
      std::fprintf(stderr, "exec model: input ended in the middle of a frame (%zu bytes)\n", dec_.buffered());
      return 1;
    }
    return 0;
  }

 private:
  int LostFraming(const Status& s) {
    std::fprintf(stderr, "exec model: %s\n", s.message().c_str());
    if (dec_.framing() == Framing::kV2) Answer(Response{"", false, s.message()}).IgnoreError();
    return 3;
  }

  // Writes one v2 frame, preceded by the hello when none was written yet.
  Status Answer(const Response& r) {
    std::string out;
    if (!hello_sent_) {
      if (auto s = EncodeHello(hello_, o_.limits, &out); !s.ok()) return s;
      hello_sent_ = true;
    }
    if (auto s = EncodeResponse(r, o_.limits, &out); !s.ok()) {
      // The output breaks the limits: the item fails, the stream stays whole (a failed encoder
      // appends nothing, so a hello already in `out` stays).
      EncodeResponse(Response{r.key, false, s.message()}, o_.limits, &out).IgnoreError();
    }
    if (!WriteAll(o_.out_fd, out)) return Status::Unavailable("write to the worker failed");
    return Status::Ok();
  }

  StatusOr<std::string> Call(const Request& req) {
    try {
      return handler_(req);
    } catch (const std::exception& e) {  // a model library threw: this item fails
      return Status::Internal(std::string("model threw: ") + e.what());
    }
  }

  // Handles one frame; false when the answer cannot be written.
  bool Serve(const RawFrame& f) {
    if (f.version == 1) {
      Request req;
      req.parts.push_back(Part{"", f.body});
      auto out = Call(req);
      if (!out.ok()) std::fprintf(stderr, "exec model: %s\n", out.status().message().c_str());
      std::string frame;
      if (!EncodeV1(out.ok() ? *out : std::string(), o_.limits, &frame).ok())
        EncodeV1("", o_.limits, &frame).IgnoreError();
      return WriteAll(o_.out_fd, frame);
    }
    if (!f.skipped.ok()) return Answer(Response{"", false, f.skipped.message()}).ok();
    auto type = BodyType(f.body);
    if (type == Type::kHello) {
      if (hello_sent_) return true;  // a repeated hello needs no answer
      std::string out;
      if (!EncodeHello(hello_, o_.limits, &out).ok()) return false;
      hello_sent_ = true;
      return WriteAll(o_.out_fd, out);
    }
    if (type != Type::kRequest) {
      return Answer(Response{"", false,
                             "exec frame of type " +
                                 std::to_string(f.body.empty() ? 0 : static_cast<unsigned char>(f.body[0])) +
                                 " where a request ('Q') or hello ('H') was expected"})
          .ok();
    }
    auto req = DecodeRequestBody(f.body, o_.limits);
    if (!req.ok()) return Answer(Response{PeekRequestKey(f.body, o_.limits), false, req.status().message()}).ok();
    auto out = Call(*req);
    if (!out.ok()) return Answer(Response{req->key, false, out.status().message()}).ok();
    return Answer(Response{req->key, true, std::move(*out)}).ok();
  }

  std::string hello_;
  const Handler& handler_;
  const ServeOptions& o_;
  ExecStreamDecoder dec_;
  bool hello_sent_ = false;
};

}  // namespace

int ServeModel(std::string_view hello, const Handler& handler, const ServeOptions& options) {
  std::signal(SIGPIPE, SIG_IGN);
  Session s(hello, handler, options);
  return s.Run();
}

const Part* InputPart(const Request& req, std::string_view name) {
  if (const Part* p = req.Find(name)) return p;
  return req.parts.size() == 1 ? &req.parts[0] : nullptr;
}

}  // namespace jb::exec
