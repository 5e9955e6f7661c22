// jbctl get -w (cli/remote.h Watch): one streamed watch connection, resumed after drops.
#include <algorithm>
#include <chrono>
#include <map>
#include <set>
#include <sstream>
#include <thread>

#include "api/manifest.h"
#include "cli/cli_util.h"
#include "cli/http_stream.h"
#include "cli/remote.h"

namespace jb::cli {

namespace {

using Clock = std::chrono::steady_clock;

struct Event {
  std::string type, name;
  uint64_t rv = 0;  // the object's metadata.resourceVersion (a BOOKMARK's: the server's position)
  Value object;
};

bool ParseEvent(const std::string& line, Event* out) {
  auto docs = ParseYamlStream(line);
  if (docs.size() != 1 || !docs[0].error.ok() || !docs[0].root.is_map()) return false;
  const Value* type = docs[0].root.Find("type");
  const Value* obj = docs[0].root.Find("object");
  if (type == nullptr || obj == nullptr || !type->is_string()) return false;
  out->type = type->as_string();
  out->object = *obj;
  if (const Value* meta = obj->Find("metadata")) {
    if (const Value* n = meta->Find("name"); n && n->is_string()) out->name = n->as_string();
    if (const Value* rv = meta->Find("resourceVersion"); rv && rv->is_string()) {
      const std::string& s = rv->as_string();
      if (!s.empty() && s.size() < 20 && s.find_first_not_of("0123456789") == std::string::npos)
        out->rv = std::stoull(s);
    }
  }
  return true;
}

// Prints events as they come: table rows (widths fixed by the header, as a stream cannot look
// ahead), names, or objects / whole events as JSON or YAML.
class Printer {
 public:
  Printer(const std::string& plural, const WatchOptions& o, std::ostream& out, std::ostream& err)
      : plural_(plural), o_(o), out_(out), err_(err) {}

  void Print(const Event& ev) {
    const bool whole = o_.watch_events;
    if (o_.output == "json") {
      out_ << ToJson(whole ? EventValue(ev) : ev.object, true) << "\n";
    } else if (o_.output == "yaml") {
      out_ << "---\n" << ToYaml(whole ? EventValue(ev) : ev.object);
    } else if (o_.output == "name") {
      out_ << SingularOf(plural_) << "/" << ev.name << "\n";
    } else {
      Row(ev);
    }
    out_.flush();
  }

 private:
  static Value EventValue(const Event& ev) {
    Value v = Value::Map();
    v.Set("type", Value::String(ev.type));
    v.Set("object", ev.object);
    return v;
  }

  void Row(const Event& ev) {
    std::vector<Diagnostic> diags;
    auto obj = ObjectFromText(ToJson(ev.object), "watch event", &diags);
    if (!obj.ok()) {
      err_ << "jbctl get: cannot show " << ev.type << " " << ev.name << ": " << obj.status().message() << "\n";
      return;
    }
    auto rows = ObjectTable(plural_, {*obj}, o_.output == "wide", false);
    if (o_.watch_events) {
      rows[0].insert(rows[0].begin(), "EVENT");
      rows[1].insert(rows[1].begin(), ev.type);
    }
    if (width_.empty())
      for (size_t i = 0; i < rows[0].size(); ++i) width_.push_back(std::max<size_t>(rows[0][i].size(), 8) + 3);
    if (!o_.no_headers && !header_done_) Line(rows[0]);
    header_done_ = true;
    Line(rows[1]);
  }

  void Line(const std::vector<std::string>& cells) {
    std::string line;
    for (size_t i = 0; i < cells.size(); ++i) {
      line += cells[i];
      if (i + 1 < cells.size()) line += std::string(cells[i].size() < width_[i] ? width_[i] - cells[i].size() : 1, ' ');
    }
    out_ << line << "\n";
  }

  const std::string plural_;
  const WatchOptions& o_;
  std::ostream& out_;
  std::ostream& err_;
  std::vector<size_t> width_;
  bool header_done_ = false;
};

// What the client has shown, so that a resumed or re-listed watch prints each change once.
class Follower {
 public:
  explicit Follower(Printer* printer) : printer_(printer) {}

  // Starts a watch: from `last_` (resuming), or a fresh list when `relist`, or when the last
  // list did not reach its end (its BOOKMARK): objects not yet listed may be older than `last_`.
  std::string ResumeVersion(bool relist) {
    listing_ = relist || listing_ || last_ == 0;
    listed_.clear();
    return listing_ ? "" : std::to_string(last_);
  }

  // Takes one event line; false once the stream must end: an ERROR event (`*expired` set: the
  // version is too old) or `max` events printed.
  bool Take(const std::string& line, int max, bool* expired) {
    Event ev;
    if (!ParseEvent(line, &ev)) return true;
    if (ev.type == "ERROR") {
      *expired = true;
      return false;
    }
    last_ = std::max(last_, ev.rv);
    if (ev.type == "BOOKMARK") {
      if (listing_) {  // the end of the initial list: what was shown but is not listed is gone
        listing_ = false;
        for (auto it = shown_.begin(); it != shown_.end();) {
          if (listed_.count(it->first) != 0) {
            ++it;
            continue;
          }
          Event gone{"DELETED", it->first, 0, it->second};
          it = shown_.erase(it);
          if (!Show(gone, max)) return false;
        }
      }
      return true;
    }
    if (listing_) listed_.insert(ev.name);
    auto it = shown_.find(ev.name);
    if (ev.type == "DELETED") {
      if (it == shown_.end()) return true;  // shown already (an event at the resume version comes again)
      shown_.erase(it);
      return Show(ev, max);
    }
    const std::string text = ToJson(ev.object);
    if (it != shown_.end() && ToJson(it->second) == text) return true;
    if (it != shown_.end() && ev.type == "ADDED") ev.type = "MODIFIED";  // re-listed, changed meanwhile
    shown_[ev.name] = ev.object;
    return Show(ev, max);
  }

  bool done() const { return done_; }

 private:
  bool Show(const Event& ev, int max) {
    printer_->Print(ev);
    if (max >= 0 && ++printed_ >= max) done_ = true;
    return !done_;
  }

  Printer* printer_;
  std::map<std::string, Value> shown_;  // name -> the object as last shown
  std::set<std::string> listed_;        // names in the current initial list
  bool listing_ = true;
  uint64_t last_ = 0;  // the highest resourceVersion seen
  int printed_ = 0;
  bool done_ = false;
};

}  // namespace

int Watch(const Connector& connect, const WatchOptions& o, std::ostream& out, std::ostream& err) {
  const std::string plural = PluralOf(o.kind);
  if (plural.empty()) {
    err << "jbctl get: unknown kind \"" << o.kind << "\"; --watch takes workflows, modelprofiles or infrastructures\n";
    return 1;
  }
  if (!o.output.empty() && o.output != "json" && o.output != "yaml" && o.output != "wide" && o.output != "name") {
    err << "jbctl get: --watch prints a table, name, json or yaml, not \"" << o.output << "\"\n";
    return 1;
  }
  auto remote = connect();
  if (!remote.ok()) {
    err << "jbctl get: " << remote.status().message() << "\n";
    return 1;
  }
  Printer printer(plural, o, out, err);
  Follower follower(&printer);
  std::string query = "?watch=true&allowWatchBookmarks=true";
  if (!o.name.empty()) query += "&fieldSelector=" + UrlEncode("metadata.name=" + o.name);
  if (!o.selector.empty()) query += "&labelSelector=" + UrlEncode(o.selector);
  bool relist = false, ever_connected = false;
  double backoff_s = 0.1;
  auto lost_since = Clock::now();
  while (true) {
    // The bookmarks (every 10 s by default) keep a quiet stream under the idle limit.
    HttpClientOptions http = remote->http;
    http.timeout_s = std::max(http.timeout_s, 30.0);
    const std::string path = kApiPath + plural + query + "&resourceVersion=" + follower.ResumeVersion(relist);
    relist = false;
    bool expired = false;
    int lines = 0;
    auto resp = HttpGetLines(http, path, [&](const std::string& line) {
      ++lines;
      return follower.Take(line, o.max_events, &expired);
    });
    if (follower.done()) return 0;
    // Connected once: a 200, or lines read from a stream that broke later.
    if ((resp.ok() && resp->status == 200) || lines > 0) ever_connected = true;
    if (lines > 0) {
      backoff_s = 0.1;
      lost_since = Clock::now();
    }
    if (expired || (resp.ok() && resp->status == 410)) {
      relist = true;  // too far behind the server's history: list again
      continue;
    }
    if (resp.ok() && resp->status != 200) {
      err << "jbctl get: " << ErrorOf(*resp) << "\n";
      return 1;
    }
    if (!resp.ok() && !ever_connected) {
      err << "jbctl get: " << resp.status().message() << "\n";
      return 1;
    }
    // The stream ended or broke (the daemon stopped, the network): resume where it was, at once
    // after a stream that carried something, else after a back-off.
    if (!resp.ok() || lines == 0) {
      if (o.give_up_s > 0 && std::chrono::duration<double>(Clock::now() - lost_since).count() > o.give_up_s) {
        err << "jbctl get: watch lost: " << (resp.ok() ? "the server ends every stream" : resp.status().message())
            << "\n";
        return 1;
      }
      std::this_thread::sleep_for(std::chrono::duration<double>(backoff_s));  // back-off between attempts
      backoff_s = std::min(backoff_s * 2, 2.0);
    }
    if (auto again = connect(); again.ok()) remote = std::move(again);
  }
}

}  // namespace jb::cli
