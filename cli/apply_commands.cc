// jbctl apply, delete and diff: manifests (files, directories, stdin) against the daemon's objects.
#include <sys/wait.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>
#include <utility>

#include "api/manifest.h"
#include "cli/cli_util.h"
#include "cli/remote.h"

namespace fs = std::filesystem;

namespace jb::cli {

namespace {

// The resourceVersion of the object in a response ("" when there is none).
std::string VersionOf(const HttpResponse& resp) {
  auto obj = DecodeResponse(resp);
  return obj.ok() ? MetaOf(*obj).resource_version.value_or("") : "";
}

// What the user manages of a response's object, as YAML ("" when it does not decode).
std::string UserYaml(const HttpResponse& resp) {
  auto obj = DecodeResponse(resp);
  return obj.ok() ? ObjectToYaml(UserView(*obj)) : "";
}

// The manifest file that owns a response's object ("" when none; daemon/manifest_ownership.h).
std::string OwnerFileOf(const HttpResponse& resp) {
  auto obj = DecodeResponse(resp);
  if (!obj.ok()) return "";
  auto it = MetaOf(*obj).annotations.find("jellybean.dev/manifest-file");
  return it == MetaOf(*obj).annotations.end() ? "" : it->second;
}

std::string What(const Object& obj) { return SingularOf(PluralOf(KindOf(obj))) + "/" + MetaOf(obj).name; }

// The manifest files of a -f argument: the file itself, or a directory's .yaml/.yml/.json files
// (sorted; sub-directories only when recursive).
std::vector<std::string> FilesOf(const std::string& path, bool recursive) {
  std::error_code ec;
  if (!fs::is_directory(path, ec)) return {path};
  std::vector<std::string> files;
  auto take = [&](const fs::directory_entry& e) {
    auto ext = e.path().extension().string();
    if (e.is_regular_file(ec) && (ext == ".yaml" || ext == ".yml" || ext == ".json"))
      files.push_back(e.path().string());
  };
  if (recursive) {
    for (auto it = fs::recursive_directory_iterator(path, ec); !ec && it != fs::recursive_directory_iterator();
         it.increment(ec))
      take(*it);
  } else {
    for (auto it = fs::directory_iterator(path, ec); !ec && it != fs::directory_iterator(); it.increment(ec)) take(*it);
  }
  std::sort(files.begin(), files.end());
  return files;
}

// Runs `diff -u -N` ($JBCTL_EXTERNAL_DIFF if set) on two texts labelled live/local; its output
// goes to `out`. Returns diff's exit status (0 same, 1 differs, 2 error).
int ExternalDiff(const std::string& label, const std::string& live, const std::string& local, std::ostream& out,
                 std::ostream& err) {
  std::string tmpl = (fs::temp_directory_path() / "jbctl-diff-XXXXXX").string();
  if (mkdtemp(tmpl.data()) == nullptr) {
    err << "jbctl diff: cannot create a temporary directory\n";
    return 2;
  }
  fs::path dir = tmpl;
  std::ofstream(dir / "live") << live;
  std::ofstream(dir / "local") << local;
  const char* ext = std::getenv("JBCTL_EXTERNAL_DIFF");
  std::string cmd = ext && *ext
                        ? std::string(ext) + " '" + (dir / "live").string() + "' '" + (dir / "local").string() + "'"
                        : "diff -u -N --label 'live/" + label + "' --label 'local/" + label + "' '" +
                              (dir / "live").string() + "' '" + (dir / "local").string() + "'";
  FILE* p = popen(cmd.c_str(), "r");
  int rc = 2;
  if (p != nullptr) {
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.write(buf, static_cast<std::streamsize>(n));
    int st = pclose(p);
    rc = WIFEXITED(st) ? WEXITSTATUS(st) : 2;
  }
  std::error_code ec;
  fs::remove_all(dir, ec);
  if (rc > 1) err << "jbctl diff: " << cmd.substr(0, cmd.find(' ')) << " failed (exit " << rc << ")\n";
  return rc;
}

}  // namespace

std::optional<std::vector<Document>> ReadManifests(const std::vector<std::string>& files, bool recursive,
                                                   std::istream& in, std::ostream& err) {
  std::vector<Document> docs;
  for (const auto& f : files) {
    if (f == "-") {
      std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
      for (auto& d : DecodeText(text, "<stdin>")) docs.push_back(std::move(d));
      continue;
    }
    std::error_code ec;
    if (!fs::exists(f, ec)) {
      err << f << ": no such file or directory\n";
      return std::nullopt;
    }
    for (const auto& file : FilesOf(f, recursive))
      for (auto& d : LoadPath(file)) docs.push_back(std::move(d));
  }
  if (docs.empty()) {
    err << "no objects found in the given manifests\n";
    return std::nullopt;
  }
  ValidateSet(&docs);
  auto diags = FormatDiagnostics(docs);
  for (const auto& d : diags) err << d << "\n";
  if (!diags.empty()) return std::nullopt;
  return docs;
}

int Apply(const Remote& r, const ApplyOptions& o, std::istream& in, std::ostream& out, std::ostream& err) {
  if (o.dry_run != "none" && o.dry_run != "client" && o.dry_run != "server") {
    err << "jbctl apply: --dry-run must be none, client or server, not \"" << o.dry_run << "\"\n";
    return 1;
  }
  auto docs = ReadManifests(o.files, o.recursive, in, err);
  if (!docs) {
    err << "jbctl apply: nothing applied: the manifests are invalid\n";
    return 1;
  }
  const std::string suffix = o.dry_run == "client" ? " (dry run)" : o.dry_run == "server" ? " (server dry run)" : "";
  int rc = 0;
  for (const auto& d : *docs) {
    const Object& obj = *d.object;
    std::string path = kApiPath + PluralOf(KindOf(obj)) + "/" + MetaOf(obj).name;
    const std::string what = What(obj);
    // The stored object before: a PUT that returns its resourceVersion again changed nothing.
    auto cur = HttpCall(r.http, "GET", path, "", "");
    if (!cur.ok()) {
      err << "jbctl apply: " << what << ": " << cur.status().message() << "\n";
      return 1;
    }
    const bool exists = cur->status == 200;
    if (!exists && cur->status != 404) {
      err << "jbctl apply: " << d.file << ": " << what << ": " << ErrorOf(*cur) << "\n";
      rc = 1;
      continue;
    }
    if (o.dry_run == "client") {
      out << what
          << (!exists                                         ? " created"
              : UserYaml(*cur) == ObjectToYaml(UserView(obj)) ? " unchanged"
                                                              : " configured")
          << suffix << "\n";
      continue;
    }
    std::string query = o.dry_run == "server" ? "dryRun=All" : "";
    if (o.force) query += std::string(query.empty() ? "" : "&") + "force=true";
    auto resp =
        HttpCall(r.http, "PUT", path + (query.empty() ? "" : "?" + query), ObjectToJson(obj), "application/json");
    if (!resp.ok()) {
      err << "jbctl apply: " << what << ": " << resp.status().message() << "\n";
      return 1;
    }
    if (resp->status == 201 || (resp->status == 200 && !exists)) {
      out << what << " created" << suffix << "\n";
    } else if (resp->status == 200) {
      bool same = o.dry_run == "server" ? UserYaml(*resp) == UserYaml(*cur) : VersionOf(*resp) == VersionOf(*cur);
      const std::string owner = exists ? OwnerFileOf(*cur) : "";
      out << what << (same ? " unchanged" : " configured") << suffix
          << (o.force && !owner.empty()
                  ? " (taken over from the manifest file " + owner +
                        ": the manifest directory no longer writes it until its document in that file changes)"
                  : "")
          << "\n";
    } else {
      err << "jbctl apply: " << d.file << ": " << what << ": " << ErrorOf(*resp) << "\n";
      rc = 1;
    }
  }
  return rc;
}

int Delete(const Remote& r, const DeleteOptions& o, std::istream& in, std::ostream& out, std::ostream& err) {
  std::vector<std::pair<std::string, std::string>> targets;  // plural, name
  if (!o.files.empty()) {
    if (!o.positionals.empty()) {
      err << "jbctl delete: give either -f or KIND NAME, not both\n";
      return 1;
    }
    auto docs = ReadManifests(o.files, o.recursive, in, err);
    if (!docs) return 1;
    for (const auto& d : *docs) targets.emplace_back(PluralOf(KindOf(*d.object)), MetaOf(*d.object).name);
  } else if (!o.positionals.empty() && o.positionals[0].find('/') != std::string::npos) {
    for (const auto& p : o.positionals) {
      std::string plural, name;
      if (!ResolveTarget({p}, &plural, &name, "jbctl delete", err)) return 1;
      targets.emplace_back(plural, name);
    }
  } else if (o.positionals.size() >= 2) {
    for (size_t i = 1; i < o.positionals.size(); ++i) {
      std::string plural, name;
      if (!ResolveTarget({o.positionals[0], o.positionals[i]}, &plural, &name, "jbctl delete", err)) return 1;
      targets.emplace_back(plural, name);
    }
  } else {
    err << "jbctl delete: usage: jbctl delete KIND NAME... | KIND/NAME... | -f FILE|DIR|-\n";
    return 1;
  }
  int rc = 0;
  for (const auto& [plural, name] : targets) {
    auto resp = HttpCall(r.http, "DELETE", kApiPath + plural + "/" + name);
    std::string what = SingularOf(plural) + "/" + name;
    if (!resp.ok()) {
      err << "jbctl delete: " << resp.status().message() << "\n";
      return 1;
    }
    if (resp->status == 200) {
      out << what << " deleted\n";
    } else if (resp->status != 404 || !o.ignore_not_found) {
      err << "jbctl delete: " << what << ": " << ErrorOf(*resp) << "\n";
      rc = 1;
    }
  }
  return rc;
}

int Diff(const Remote& r, const DiffOptions& o, std::istream& in, std::ostream& out, std::ostream& err) {
  if (o.files.empty()) {
    err << "jbctl diff: usage: jbctl diff -f FILE|DIR|-\n";
    return 2;
  }
  auto docs = ReadManifests(o.files, o.recursive, in, err);
  if (!docs) return 2;
  int rc = 0;
  for (const auto& d : *docs) {
    std::string plural = PluralOf(KindOf(*d.object));
    auto resp = HttpCall(r.http, "GET", kApiPath + plural + "/" + MetaOf(*d.object).name);
    if (!resp.ok()) {
      err << "jbctl diff: " << resp.status().message() << "\n";
      return 2;
    }
    std::string local = ObjectToYaml(UserView(*d.object));
    std::string live;
    if (resp->status == 200) {
      live = UserYaml(*resp);
      if (live.empty()) {
        err << "jbctl diff: malformed object from the server\n";
        return 2;
      }
    } else if (resp->status != 404) {
      err << "jbctl diff: " << ErrorOf(*resp) << "\n";
      return 2;
    }
    if (local == live) continue;
    int one = ExternalDiff(What(*d.object), live, local, out, err);
    if (one > 1) return 2;
    rc = std::max(rc, one);
  }
  return rc;
}

}  // namespace jb::cli
