// jbctl get -w (cli/commands.h WatchCommand).
#include <iomanip>
#include <iostream>
#include <sstream>

#include "api/manifest.h"
#include "cli/commands.h"
#include "cli/remote.h"

namespace jb {

namespace {

struct WatchLine {
  std::string type, name, rv;
  Value object;
};

bool ParseLine(const std::string& line, WatchLine* out) {
  auto docs = ParseYamlStream(line);
  if (docs.size() != 1 || !docs[0].error.ok() || !docs[0].root.is_map()) return false;
  const Value* type = docs[0].root.Find("type");
  const Value* obj = docs[0].root.Find("object");
  if (type == nullptr || obj == nullptr || !type->is_string()) return false;
  out->type = type->as_string();
  out->object = *obj;
  if (const Value* meta = obj->Find("metadata")) {
    if (const Value* n = meta->Find("name"); n && n->is_string()) out->name = n->as_string();
    if (const Value* rv = meta->Find("resourceVersion"); rv && rv->is_string()) out->rv = rv->as_string();
  }
  return true;
}

uint64_t AsNumber(const std::string& rv) {
  if (rv.empty() || rv.find_first_not_of("0123456789") != std::string::npos || rv.size() > 19) return 0;
  return std::stoull(rv);
}

}  // namespace

int WatchCommand(const RemoteOptions& opts, const std::string& kind, const std::string& name, const std::string& output,
                 std::ostream& out, std::ostream& err, int max_events, double window_s) {
  const std::string plural = cli::PluralOf(kind);
  if (plural.empty()) {
    err << "error: unknown kind \"" << kind << "\"; expected workflows, modelprofiles or infrastructures\n";
    return 1;
  }
  if (!output.empty() && output != "json" && output != "yaml" && output != "wide") {
    err << "error: --watch prints a table, json or yaml, not \"" << output << "\"\n";
    return 1;
  }
  HttpClientOptions http = opts.http;
  http.timeout_s = std::max(http.timeout_s, window_s + 10);
  std::string rv = "0";  // the current objects first, as ADDED
  uint64_t last = 0;
  int printed = 0;
  bool header = output.empty() || output == "wide";
  while (max_events < 0 || printed < max_events) {
    std::ostringstream path;
    path << cli::kApiPath << plural << "?watch=true&resourceVersion=" << rv << "&timeoutSeconds=" << window_s;
    if (!name.empty()) path << "&fieldSelector=metadata.name%3D" << name;
    auto resp = HttpCall(http, "GET", path.str());
    if (!resp.ok()) {
      err << "error: " << resp.status().message() << "\n";
      return 1;
    }
    if (resp->status == 410) {  // fell behind the server's history: start again from the objects
      rv = "0";
      continue;
    }
    if (resp->status != 200) {
      err << "error: " << cli::ErrorOf(*resp) << "\n";
      return 1;
    }
    std::istringstream lines(resp->body);
    std::string line;
    bool relist = false;
    while (std::getline(lines, line) && (max_events < 0 || printed < max_events)) {
      WatchLine ev;
      if (line.empty() || !ParseLine(line, &ev)) continue;
      last = std::max(last, AsNumber(ev.rv));
      if (ev.type == "BOOKMARK") continue;
      if (ev.type == "ERROR") {
        relist = true;
        break;
      }
      if (output == "json") {
        out << ToJson(ev.object, true) << "\n";
      } else if (output == "yaml") {
        out << "---\n" << ToYaml(ev.object);
      } else {
        if (header) {
          out << std::left << std::setw(10) << "EVENT" << std::setw(32) << "NAME"
              << "RESOURCEVERSION\n";
          header = false;
        }
        out << std::left << std::setw(10) << ev.type << std::setw(32) << ev.name << ev.rv << "\n";
      }
      out.flush();
      ++printed;
    }
    // Resume after the last version seen (events and bookmarks); the server sends nothing twice.
    rv = relist || last == 0 ? "0" : std::to_string(last);
  }
  return 0;
}

int WatchCommand(const RemoteOptions& opts, const std::string& kind, const std::string& name,
                 const std::string& output) {
  return WatchCommand(opts, kind, name, output, std::cout, std::cerr);
}

}  // namespace jb
