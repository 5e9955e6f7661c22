#include "daemon/config.h"

#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "api/value.h"

namespace jb {
namespace {

std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string RangeText(const FieldOpts& o, const char* what) {
  std::string s = what;
  if (o.min) s += std::string(o.min_exclusive ? " > " : " >= ") + FormatNumber(*o.min);
  if (o.max) s += (o.min ? " and <= " : " <= ") + FormatNumber(*o.max);
  return s;
}

// Applies one flag: finds it in the table and parses its value by the field's type and options.
class FlagParser {
 public:
  FlagParser(const std::vector<std::string>& args, size_t* i) : args_(args), i_(i) {}
  bool found() const { return found_; }
  const Status& status() const { return status_; }

  template <class T>
  void Flag(const char*, const char* flag, const char* arg, T& member, const FieldOpts& opts) {
    const std::string& a = args_[*i_];
    if (found_ || a != flag) return;
    found_ = true;
    if constexpr (std::is_same_v<T, bool>) {
      (void)arg;
      member = true;
      return;
    } else {
      if (*i_ + 1 >= args_.size()) {
        status_ = Status::InvalidArgument(a + " needs a value (" + arg + ")");
        return;
      }
      const std::string& v = args_[++*i_];
      if constexpr (std::is_same_v<T, std::string>) {
        if (!opts.enum_values.empty()) {
          bool ok = false;
          std::string list;
          for (const auto& e : opts.enum_values) {
            ok = ok || e == v;
            list += (list.empty() ? "" : ", ") + e;
          }
          if (!ok) status_ = Status::InvalidArgument(a + ": \"" + v + "\" is not allowed; expected one of " + list);
        }
        if (status_.ok()) member = v;
      } else {
        constexpr bool kInteger = std::is_same_v<T, int64_t>;
        const char* what = kInteger ? "an integer" : "a number";
        char* end = nullptr;
        errno = 0;
        double d = std::strtod(v.c_str(), &end);
        bool parsed = !v.empty() && end == v.c_str() + v.size() && errno != ERANGE && std::isfinite(d) &&
                      (!kInteger || d == std::floor(d));
        bool below = opts.min && (opts.min_exclusive ? !(d > *opts.min) : d < *opts.min);
        bool above = opts.max && d > *opts.max;
        if (!parsed || below || above) {
          status_ = Status::InvalidArgument(a + ": expected " + RangeText(opts, what) + ", got \"" + v + "\"");
          return;
        }
        member = static_cast<T>(d);
      }
    }
  }
  template <class T>
  void Field(const char*, T&, const FieldOpts&) {}

 private:
  const std::vector<std::string>& args_;
  size_t* i_;
  bool found_ = false;
  Status status_;
};

// --help lines: "  --flag ARG" in a 28-column margin, then the text (continued under it).
class UsagePrinter {
 public:
  template <class T>
  void Flag(const char* key, const char* flag, const char* arg, T&, const FieldOpts& opts) {
    std::string head = std::string("  ") + flag + (*arg != '\0' ? std::string(" ") + arg : std::string());
    if (head.size() < 28)
      head.resize(28, ' ');
    else
      head += "\n" + std::string(28, ' ');
    std::string text = opts.doc + " [" + key + "]";
    for (size_t at = text.find('\n'); at != std::string::npos; at = text.find('\n', at + 29))
      text.insert(at + 1, std::string(28, ' '));
    out_ += head + text + "\n";
  }
  template <class T>
  void Field(const char*, T&, const FieldOpts&) {}
  const std::string& text() const { return out_; }

 private:
  std::string out_;
};

}  // namespace

Status LoadConfigFile(const std::string& path, DaemonConfig* cfg) {
  auto docs = ParseYamlStream(ReadAll(path));
  if (docs.empty()) return Status::Ok();
  const auto& d = docs[0];
  if (!d.error.ok())
    return Status::InvalidArgument(path + ":" + std::to_string(d.error_mark.line) + ":" +
                                   std::to_string(d.error_mark.column) + ": " + d.error.message());
  if (docs.size() > 1)
    return Status::InvalidArgument(path + ": expected one document, found " + std::to_string(docs.size()));
  if (d.root.is_null()) return Status::Ok();  // an empty file: the defaults
  std::vector<Diagnostic> diags;
  Decoder dec(path, &diags, nullptr);
  DaemonConfig out = *cfg;
  dec.DecodeInto(d.root, out, "");
  if (!diags.empty()) {
    std::string msg;
    for (auto diag : diags) {
      // A config file has keys (the resources' decoder speaks of fields).
      if (diag.message.rfind("unknown field;", 0) == 0) diag.message.replace(0, 13, "unknown key");
      msg += (msg.empty() ? "" : "\n") + diag.ToString();
    }
    return Status::InvalidArgument(msg);
  }
  *cfg = std::move(out);
  return Status::Ok();
}

Status ParseFlags(const std::vector<std::string>& args, DaemonConfig* cfg, std::string* config_path, bool* help) {
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "-h" || a == "--help") {
      *help = true;
      continue;
    }
    if (a == "--config") {
      if (i + 1 >= args.size()) return Status::InvalidArgument("--config needs a value (FILE)");
      *config_path = args[++i];
      continue;
    }
    FlagParser p(args, &i);
    Describe(p, *cfg);
    if (!p.found()) return Status::InvalidArgument("unknown flag \"" + a + "\"");
    if (!p.status().ok()) return p.status();
  }
  return Status::Ok();
}

std::string DaemonUsage() {
  UsagePrinter p;
  DaemonConfig scratch;
  Describe(p, scratch);
  return "Usage: jellybeand [--config FILE] [flags]\n\n"
         "Flags (override the config file, default /etc/jellybean/jellybeand.yaml when it exists; the\n"
         "config file's key of each is in [brackets]):\n" +
         p.text();
}

}  // namespace jb
