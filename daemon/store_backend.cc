#include "daemon/store_backend.h"

#include <cstdlib>
#include <ostream>

#include "base/file.h"
#include "reconciler/file_store.h"
#include "store/etcd/etcd_store.h"

namespace jb {

StatusOr<OpenedStore> OpenStoreBackend(const std::string& spec, const std::string& state_dir) {
  OpenedStore out;
  if (spec.rfind("etcd:", 0) == 0) {
    auto opts = etcd::ParseEtcdSpec(spec);
    if (!opts.ok()) return opts.status();
    auto s = EtcdStore::Open(*opts);
    if (!s.ok()) return Status::Unavailable("etcd store: " + s.status().message());
    EtcdStore* etcd = s->get();
    std::string urls;
    for (const auto& e : opts->endpoints) urls += (urls.empty() ? "" : ",") + e;
    out.description = "etcd store " + urls + " prefix " + opts->prefix;
    out.import = [etcd](Object obj) { return etcd->Import(std::move(obj)); };
    out.store = std::move(*s);
    return out;
  }
  std::string dir = state_dir;
  if (spec.rfind("file:", 0) == 0)
    dir = spec.substr(5);
  else if (!spec.empty())
    return Status::InvalidArgument("store \"" + spec + "\": expected file:DIR or etcd:URL[,URL...][?prefix=P...]");
  if (dir.empty()) return Status::InvalidArgument("store \"" + spec + "\": no directory");
  auto fs = std::make_unique<FileStore>(dir);
  out.problems = fs->Load();
  FileStore* file = fs.get();
  out.description = "file store " + dir;
  out.import = [file](Object obj) { return file->Import(std::move(obj)); };
  out.store = std::move(fs);
  return out;
}

Subscription OnOtherReplicasStatusWrites(Store& store, std::function<void()> fn) {
  auto* etcd = dynamic_cast<EtcdStore*>(&store);
  if (etcd == nullptr) return Subscription();
  return etcd->OnOthersStatusWrite([fn = std::move(fn)](const std::string&, const std::string&) { fn(); });
}

StatusOr<int64_t> NextLocalTerm(const std::string& state_dir) {
  const std::string path = state_dir + "/term";
  std::string text = ReadFileOrEmpty(path);
  int64_t term = 0;
  if (!text.empty()) {
    char* end = nullptr;
    term = std::strtoll(text.c_str(), &end, 10);
    if (end == text.c_str() || term < 0)
      return Status::InvalidArgument("fencing term file " + path + ": expected a number, found \"" + text + "\"");
  }
  ++term;
  if (auto s = WriteFileAtomic(path, std::to_string(term) + "\n", 0600); !s.ok())
    return Status::Unavailable("fencing term file " + path + ": " + s.message());
  return term;
}

int RunMigrate(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  std::string from, to;
  for (size_t i = 0; i < args.size(); ++i) {
    if ((args[i] == "--from" || args[i] == "--to") && i + 1 < args.size()) {
      (args[i] == "--from" ? from : to) = args[i + 1];
      ++i;
    } else {
      err << "jellybeand migrate: unexpected argument \"" << args[i] << "\"\n";
      return 2;
    }
  }
  if (from.empty() || to.empty() || from == to) {
    err << "usage: jellybeand migrate --from file:DIR|etcd:URL... --to file:DIR|etcd:URL...\n"
           "  copies every object (spec, status, generation, finalizers) into a store that holds none of them;\n"
           "  stop every jellybeand using either store first\n";
    return 2;
  }
  auto src = OpenStoreBackend(from, "");
  if (!src.ok()) {
    err << "jellybeand migrate: --from: " << src.status().message() << "\n";
    return 1;
  }
  for (const auto& p : src->problems) err << "jellybeand migrate: source: " << p << "\n";
  auto dst = OpenStoreBackend(to, "");
  if (!dst.ok()) {
    err << "jellybeand migrate: --to: " << dst.status().message() << "\n";
    return 1;
  }
  int moved = 0, failed = 0;
  for (const char* kind : {"Infrastructure", "ModelProfile", "Workflow"}) {
    std::vector<Object> objects;
    if (auto* etcd = dynamic_cast<EtcdStore*>(src->store.get())) {
      auto listed = etcd->ListChecked(kind);
      if (!listed.ok()) {
        err << "jellybeand migrate: cannot list " << kind << "s: " << listed.status().message() << "\n";
        return 1;
      }
      objects = std::move(*listed);
    } else {
      objects = src->store->List(kind);
    }
    for (auto& obj : objects) {
      const std::string name = MetaOf(obj).name;
      auto put = dst->import(obj);
      if (!put.ok()) {
        err << "jellybeand migrate: " << kind << "/" << name << ": " << put.status().message() << "\n";
        ++failed;
        continue;
      }
      out << kind << "/" << name << " moved (resourceVersion " << MetaOf(*put).resource_version.value_or("") << ")\n";
      ++moved;
    }
  }
  out << moved << " object(s) moved from " << src->description << " to " << dst->description;
  if (failed > 0) out << "; " << failed << " failed";
  out << "\n";
  return failed > 0 ? 1 : 0;
}

}  // namespace jb
