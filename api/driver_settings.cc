#include "api/driver_settings.h"

#include <cerrno>
#include <cmath>
#include <cstdlib>

namespace jb {
namespace settings_internal {

bool ParseNumber(const std::string& s, bool integer, double* out) {
  if (s.empty() || std::isspace(static_cast<unsigned char>(s.front())) != 0) return false;
  char* end = nullptr;
  errno = 0;
  double d = std::strtod(s.c_str(), &end);
  if (end != s.c_str() + s.size() || errno == ERANGE || !std::isfinite(d)) return false;
  if (integer && (d != std::floor(d) || std::fabs(d) > 9007199254740991.0)) return false;
  *out = d;
  return true;
}

}  // namespace settings_internal

namespace {

template <class T>
void Validate(const std::map<std::string, std::string>& settings, const std::string& path,
              const std::unordered_map<std::string, Mark>* marks, const std::string& file,
              std::vector<Diagnostic>* diags) {
  T out{};
  DecodeSettingsInto(settings, path, marks, file, diags, &out);
}

// The local driver has no settings: say so instead of "expected one of: " with nothing after it.
void ValidateLocal(const std::map<std::string, std::string>& settings, const std::string& path,
                   const std::unordered_map<std::string, Mark>* marks, const std::string& file,
                   std::vector<Diagnostic>* diags) {
  for (const auto& [key, value] : settings) {
    Mark m;
    if (marks != nullptr)
      if (auto it = marks->find(path + "." + key); it != marks->end()) m = it->second;
    diags->push_back(
        Diagnostic{file, m, path + "." + Excerpt(key), "unknown setting; the local driver takes no settings"});
  }
}

}  // namespace

const std::vector<DriverSettingsSchema>& DriverSettingsSchemas() {
  static const std::vector<DriverSettingsSchema> kSchemas = {
      {"local", ValidateLocal},
      {"ssh", Validate<SshSettings>},
      {"agent", Validate<AgentSettings>},
      {"cloud", Validate<CloudSettings>},
  };
  return kSchemas;
}

const std::vector<std::string>& DriverTypeNames() {
  static const std::vector<std::string> kNames = [] {
    std::vector<std::string> out;
    for (const auto& s : DriverSettingsSchemas()) out.push_back(s.type);
    return out;
  }();
  return kNames;
}

const DriverSettingsSchema* FindDriverSettings(const std::string& type) {
  for (const auto& s : DriverSettingsSchemas())
    if (s.type == type) return &s;
  return nullptr;
}

}  // namespace jb
