// jbctl apply, delete and diff: manifests against the daemon's objects.
#include <algorithm>
#include <sstream>
#include <utility>

#include "api/manifest.h"
#include "cli/cli_util.h"
#include "cli/remote.h"

namespace jb::cli {

namespace {

// Line diff (LCS) of two texts, unified-style without context trimming.
std::string LineDiff(const std::string& a, const std::string& b) {
  auto lines = [](const std::string& s) {
    std::vector<std::string> v;
    std::stringstream ss(s);
    std::string l;
    while (std::getline(ss, l)) v.push_back(l);
    return v;
  };
  auto x = lines(a), y = lines(b);
  std::vector<std::vector<int>> L(x.size() + 1, std::vector<int>(y.size() + 1, 0));
  for (size_t i = x.size(); i-- > 0;)
    for (size_t j = y.size(); j-- > 0;)
      L[i][j] = x[i] == y[j] ? L[i + 1][j + 1] + 1 : std::max(L[i + 1][j], L[i][j + 1]);
  std::string out;
  size_t i = 0, j = 0;
  while (i < x.size() || j < y.size()) {
    if (i < x.size() && j < y.size() && x[i] == y[j]) {
      out += "  " + x[i++] + "\n";
      ++j;
    } else if (j < y.size() && (i == x.size() || L[i][j + 1] >= L[i + 1][j])) {
      out += "+ " + y[j++] + "\n";
    } else {
      out += "- " + x[i++] + "\n";
    }
  }
  return out;
}

// The manifest file that owns an object ("" when none; daemon/manifest_ownership.h).
std::string OwnerFileOf(const Object& obj) {
  auto it = MetaOf(obj).annotations.find("jellybean.dev/manifest-file");
  return it == MetaOf(obj).annotations.end() ? "" : it->second;
}

// The resourceVersion of the object in a response ("" when there is none).
std::string VersionOf(const HttpResponse& resp) {
  auto obj = DecodeResponse(resp);
  return obj.ok() ? MetaOf(*obj).resource_version.value_or("") : "";
}

}  // namespace

int Apply(const Remote& r, std::ostream& out, std::ostream& err) {
  std::vector<std::string> paths;
  bool force = false;  // take objects over from the manifest file that owns them
  for (size_t i = 0; i < r.rest.size(); ++i)
    if ((r.rest[i] == "-f" || r.rest[i] == "--filename") && i + 1 < r.rest.size())
      paths.push_back(r.rest[++i]);
    else if (r.rest[i] == "--force")
      force = true;
    else {
      err << "jbctl apply: unexpected argument \"" << r.rest[i] << "\"\n";
      return 1;
    }
  if (paths.empty()) {
    err << "jbctl apply: expected -f FILE|DIR\n";
    return 1;
  }
  std::vector<Document> docs;
  if (LoadManifests(paths, err, &docs) > 0) {
    err << "jbctl apply: nothing applied: the manifests are invalid\n";
    return 1;
  }
  int rc = 0;
  for (const auto& d : docs) {
    Object obj = *d.object;
    std::string path = kApiPath + PluralOf(KindOf(obj)) + "/" + MetaOf(obj).name;
    // The stored resourceVersion before: a PUT that returns it again changed nothing.
    std::string before, owner;
    if (auto cur = HttpCall(r.http, "GET", path, "", ""); cur.ok() && cur->status == 200) {
      before = VersionOf(*cur);
      if (auto o = DecodeResponse(*cur); o.ok()) owner = OwnerFileOf(*o);
    }
    auto resp = HttpCall(r.http, "PUT", path + (force ? "?force=true" : ""), ObjectToJson(obj), "application/json");
    std::string what = PluralOf(KindOf(obj)).substr(0, PluralOf(KindOf(obj)).size() - 1) + "/" + MetaOf(obj).name;
    if (!resp.ok()) {
      err << "jbctl apply: " << what << ": " << resp.status().message() << "\n";
      return 1;
    }
    if (resp->status == 201)
      out << what << " created\n";
    else if (resp->status == 200)
      out << what << (!before.empty() && VersionOf(*resp) == before ? " unchanged" : " configured")
          << (force && !owner.empty()
                  ? " (taken over from the manifest file " + owner +
                        ": the manifest directory no longer writes it until its document in that file changes)"
                  : "")
          << "\n";
    else {
      err << "jbctl apply: " << d.file << ": " << what << ": " << ErrorOf(*resp) << "\n";
      rc = 1;
    }
  }
  return rc;
}

int Delete(const Remote& r, std::ostream& out, std::ostream& err) {
  std::vector<std::pair<std::string, std::string>> targets;  // plural, name
  if (r.rest.size() >= 2 && (r.rest[0] == "-f" || r.rest[0] == "--filename")) {
    for (size_t i = 0; i + 1 < r.rest.size(); i += 2) {
      for (const auto& d : LoadPath(r.rest[i + 1]))
        if (d.object) targets.emplace_back(PluralOf(KindOf(*d.object)), MetaOf(*d.object).name);
    }
  } else if (r.rest.size() == 2 && !PluralOf(r.rest[0]).empty()) {
    targets.emplace_back(PluralOf(r.rest[0]), r.rest[1]);
  } else {
    err << "jbctl delete: usage: jbctl delete KIND NAME | jbctl delete -f FILE|DIR\n";
    return 1;
  }
  int rc = 0;
  for (const auto& [plural, name] : targets) {
    auto resp = HttpCall(r.http, "DELETE", kApiPath + plural + "/" + name);
    std::string what = plural.substr(0, plural.size() - 1) + "/" + name;
    if (!resp.ok()) {
      err << "jbctl delete: " << resp.status().message() << "\n";
      return 1;
    }
    if (resp->status == 200)
      out << what << " deleted\n";
    else {
      err << "jbctl delete: " << what << ": " << ErrorOf(*resp) << "\n";
      rc = 1;
    }
  }
  return rc;
}

int Diff(const Remote& r, std::ostream& out, std::ostream& err) {
  std::vector<std::string> paths;
  for (size_t i = 0; i + 1 < r.rest.size(); i += 2)
    if (r.rest[i] == "-f" || r.rest[i] == "--filename") paths.push_back(r.rest[i + 1]);
  if (paths.empty()) {
    err << "jbctl diff: usage: jbctl diff -f FILE|DIR\n";
    return 2;
  }
  std::vector<Document> docs;
  if (LoadManifests(paths, err, &docs) > 0) return 2;
  bool differs = false;
  for (const auto& d : docs) {
    std::string plural = PluralOf(KindOf(*d.object));
    auto resp = HttpCall(r.http, "GET", kApiPath + plural + "/" + MetaOf(*d.object).name);
    if (!resp.ok()) {
      err << "jbctl diff: " << resp.status().message() << "\n";
      return 2;
    }
    std::string local = ObjectToYaml(UserView(*d.object));
    std::string remote;
    if (resp->status == 200) {
      auto obj = DecodeResponse(*resp);
      if (!obj.ok()) {
        err << "jbctl diff: malformed object from the server\n";
        return 2;
      }
      remote = ObjectToYaml(UserView(*obj));
    } else if (resp->status != 404) {
      err << "jbctl diff: " << ErrorOf(*resp) << "\n";
      return 2;
    }
    if (local == remote) continue;
    differs = true;
    out << "--- server " << d.Describe() << (remote.empty() ? " (absent)" : "") << "\n+++ " << d.file << "\n"
        << LineDiff(remote, local);
  }
  return differs ? 1 : 0;
}

}  // namespace jb::cli
