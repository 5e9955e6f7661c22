#include "cli/logs_command.h"

#include <strings.h>

#include <chrono>
#include <thread>

#include "cli/remote.h"

namespace jb {
namespace {

const char* kLogsUsage = "jbctl logs: usage: jbctl logs workflow/NAME --worker WORKER [-f|--follow] [--tail N]\n";

std::string Header(const HttpResponse& resp, const char* name) {
  for (const auto& [k, v] : resp.headers)
    if (strcasecmp(k.c_str(), name) == 0) return v;
  return "";
}

bool Digits(const std::string& s) {
  bool ok = !s.empty() && s.size() <= 9;
  for (char c : s) ok = ok && c >= '0' && c <= '9';
  return ok;
}

}  // namespace

int LogsCommand(const std::vector<std::string>& args, std::ostream& out, std::ostream& err,
                const std::function<bool()>& stop) {
  auto r = cli::Connect(args);
  if (!r.ok()) {
    err << "jbctl logs: " << r.status().message() << "\n";
    return 1;
  }
  LogsOptions o;
  const auto& rest = r->rest;
  for (size_t i = 0; i < rest.size(); ++i) {
    const std::string& a = rest[i];
    if ((a == "--worker" || a == "-w") && i + 1 < rest.size()) {
      o.worker = rest[++i];
    } else if (a.rfind("--worker=", 0) == 0) {
      o.worker = a.substr(9);
    } else if (a == "-f" || a == "--follow") {
      o.follow = true;
    } else if (a == "--tail" && i + 1 < rest.size() && Digits(rest[i + 1])) {
      o.tail = std::stoi(rest[++i]);
    } else if (o.target.empty() && a.find('/') != std::string::npos) {
      o.target = a;
    } else if (o.target.empty() && cli::PluralOf(a) == "workflows" && i + 1 < rest.size()) {
      o.target = "workflow/" + rest[++i];
    } else {
      err << kLogsUsage;
      return 1;
    }
  }
  return Logs(*r, o, out, err, stop);
}

int Logs(const cli::Remote& remote, const LogsOptions& o, std::ostream& out, std::ostream& err,
         const std::function<bool()>& stop) {
  const cli::Remote* r = &remote;
  std::string name;
  if (auto slash = o.target.find('/');
      slash != std::string::npos && cli::PluralOf(o.target.substr(0, slash)) == "workflows")
    name = o.target.substr(slash + 1);
  if (name.empty()) {
    err << kLogsUsage;
    return 1;
  }
  const std::string& worker = o.worker;
  const bool follow = o.follow;
  const std::string tail = o.tail >= 0 ? std::to_string(o.tail) : "";
  const std::string base = cli::kApiPath + "workflows/" + name + "/logs?worker=" + worker;
  auto resp = HttpCall(r->http, "GET", base + (tail.empty() ? "" : "&tailLines=" + tail));
  if (!resp.ok() || resp->status != 200) {
    err << "jbctl logs: " << (resp.ok() ? cli::ErrorOf(*resp) : resp.status().message()) << "\n";
    return 1;
  }
  out << resp->body << std::flush;
  std::string offset = Header(*resp, "X-Log-Offset");
  bool cut_off = false;  // said so once
  while (follow && !offset.empty()) {
    for (int i = 0; i < 5; ++i) {  // 500 ms, checking `stop` every 100
      if (stop && stop()) return 0;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    resp = HttpCall(r->http, "GET", base + "&sinceBytes=" + offset);
    if (!resp.ok()) continue;   // the daemon restarts: keep trying
    if (resp->status == 503) {  // the worker's host or device is cut off for now: keep following
      if (!cut_off) err << "jbctl logs: " << cli::ErrorOf(*resp) << " (still following)\n";
      cut_off = true;
      continue;
    }
    cut_off = false;
    if (resp->status == 404) {
      err << "jbctl logs: " << cli::ErrorOf(*resp) << "\n";
      return 0;  // the worker is gone (a new plan replaced it): its log ended
    }
    if (resp->status != 200) {
      err << "jbctl logs: " << cli::ErrorOf(*resp) << "\n";
      return 1;
    }
    out << resp->body << std::flush;
    if (std::string next = Header(*resp, "X-Log-Offset"); !next.empty()) offset = next;
  }
  return 0;
}

}  // namespace jb
