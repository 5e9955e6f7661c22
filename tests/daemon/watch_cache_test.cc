// The watch cache (daemon/watch_cache.h) over a MemoryStore, and label selectors.
#include "daemon/watch_cache.h"

#include <gtest/gtest.h>

#include "api/manifest.h"
#include "daemon/label_selector.h"
#include "reconciler/memory_store.h"

namespace jb {
namespace {

using std::chrono::milliseconds;

Infrastructure Infra(const std::string& name, double rate = 1) {
  std::vector<Diagnostic> d;
  std::string text = "apiVersion: jellybean.dev/v1alpha1\nkind: Infrastructure\nmetadata:\n  name: " + name +
                     "\n  labels: {team: a}\nspec:\n  tiers:\n  - name: edge\n    driver: {type: local}\n"
                     "  nodes:\n  - name: n1\n    tier: edge\n    hardware: h\n    count: 1\n    pricePerHour: " +
                     std::to_string(rate) + "\n";
  auto o = ObjectFromText(text, "t", &d);
  EXPECT_TRUE(o.ok()) << (d.empty() ? "" : d[0].ToString());
  return o.ok() ? std::get<Infrastructure>(*o) : Infrastructure{};
}

struct Event {
  std::string type, name, rv;
};

std::vector<Event> Parse(const std::string& lines) {
  std::vector<Event> out;
  for (const auto& doc : ParseYamlStream(lines.empty() ? "" : "[" + [&] {
         std::string s = lines;
         for (size_t i = 0; (i = s.find("}\n{", i)) != std::string::npos;) s.replace(i, 3, "},{");
         return s;
       }() + "]")) {
    for (const auto& item : doc.root.items()) {
      Event e;
      e.type = item.Find("type")->as_string();
      if (e.type == "BOOKMARK") continue;  // tested on their own
      const Value* meta = item.Find("object")->Find("metadata");
      if (const Value* n = meta->Find("name")) e.name = n->as_string();
      if (const Value* rv = meta->Find("resourceVersion")) e.rv = rv->as_string();
      out.push_back(e);
    }
  }
  return out;
}

std::string Drain(Watcher* w) {
  std::string out;
  while (true) {
    std::string chunk;
    w->Next(&chunk, milliseconds(1));
    if (chunk.empty()) return out;
    out += chunk;
  }
}

TEST(WatchCache, EveryChangeInResourceVersionOrderStatusWritesToo) {
  MemoryStore store;
  WatchCache cache(&store);
  WatchedStore watched(&store, &cache);
  auto w = cache.Watch(WatchFilter{"Infrastructure", "", {}}, "");
  ASSERT_TRUE(w.ok());
  ASSERT_TRUE(watched.Put(Infra("a")).ok());
  ASSERT_TRUE(watched.Put(Infra("b")).ok());
  ASSERT_TRUE(watched.Put(Infra("a", 2)).ok());
  ASSERT_TRUE(watched.Delete("Infrastructure", "b").ok());
  auto ev = Parse(Drain(w->get()));
  ASSERT_EQ(ev.size(), 4u);
  EXPECT_EQ(ev[0].type + ev[0].name, "ADDEDa");
  EXPECT_EQ(ev[1].type + ev[1].name, "ADDEDb");
  EXPECT_EQ(ev[2].type + ev[2].name, "MODIFIEDa");
  EXPECT_EQ(ev[3].type + ev[3].name, "DELETEDb");
  EXPECT_LT(std::stoull(ev[0].rv), std::stoull(ev[1].rv));
  EXPECT_LT(std::stoull(ev[1].rv), std::stoull(ev[2].rv));
}

TEST(WatchCache, WorkflowStatusWritesThroughWatchedStoreAreEvents) {
  MemoryStore store;
  WatchCache cache(&store);
  WatchedStore watched(&store, &cache);
  std::vector<Diagnostic> d;
  auto wf = ObjectFromText(
      "apiVersion: jellybean.dev/v1alpha1\nkind: Workflow\nmetadata: {name: w}\nspec:\n  infrastructure: i\n"
      "  sources: [{name: s, rate: 1, tier: edge, itemSizeKiB: 1}]\n  operators: [{name: o, profile: p, inputs: "
      "[{from: s}]}]\n  slo: {minAccuracy: 50}\n",
      "t", &d);
  ASSERT_TRUE(wf.ok()) << (d.empty() ? "" : d[0].ToString());
  ASSERT_TRUE(watched.Put(*wf).ok());
  auto w = cache.Watch(WatchFilter{"Workflow", "w", {}}, std::to_string(cache.version()));
  ASSERT_TRUE(w.ok());
  WorkflowStatus st;
  st.plan_epoch = 3;
  ASSERT_TRUE(watched.PutStatus("w", st).ok());
  auto ev = Parse(Drain(w->get()));
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0].type, "MODIFIED");
  EXPECT_EQ(ev[0].rv, std::to_string(cache.version()));
}

TEST(WatchCache, ResumesFromAVersionAndAnswersGoneBeforeTheHistory) {
  MemoryStore store;
  WatchCache cache(&store, WatchCacheOptions{3, 8});
  ASSERT_TRUE(store.Put(Infra("a")).ok());
  const std::string after_a = std::to_string(cache.version());
  for (int i = 0; i < 2; ++i) ASSERT_TRUE(store.Put(Infra("b", i + 1)).ok());
  auto w = cache.Watch(WatchFilter{"Infrastructure", "", {}}, after_a);
  ASSERT_TRUE(w.ok());
  auto ev = Parse(Drain(w->get()));
  ASSERT_EQ(ev.size(), 2u);
  EXPECT_EQ(ev[0].type + ev[0].name, "ADDEDb");
  EXPECT_EQ(ev[1].type + ev[1].name, "MODIFIEDb");
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(store.Put(Infra("c", i + 1)).ok());
  auto old = cache.Watch(WatchFilter{"Infrastructure", "", {}}, after_a);
  ASSERT_FALSE(old.ok());
  EXPECT_EQ(old.status().code(), Status::Code::kFailedPrecondition);
  // The open watcher fell behind the 3-event ring: an ERROR 410 and the end.
  std::string out;
  EXPECT_FALSE((*w)->Next(&out, milliseconds(1)));
  EXPECT_NE(out.find("\"ERROR\""), std::string::npos);
  EXPECT_NE(out.find("410"), std::string::npos);
}

TEST(WatchCache, DeletionAtTheSameVersionIsNotLostOnResume) {
  MemoryStore store;
  WatchCache cache(&store);
  ASSERT_TRUE(store.Put(Infra("a")).ok());
  ASSERT_TRUE(store.Put(Infra("b")).ok());
  const std::string seen = std::to_string(cache.version());  // client saw ADDED b, not what follows
  ASSERT_TRUE(store.Delete("Infrastructure", "b").ok());
  auto w = cache.Watch(WatchFilter{"Infrastructure", "", {}}, seen);
  ASSERT_TRUE(w.ok());
  auto ev = Parse(Drain(w->get()));
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0].type + ev[0].name, "DELETEDb");
}

TEST(WatchCache, FiltersByNameAndLabelsAndBoundsWatchers) {
  MemoryStore store;
  WatchCache cache(&store, WatchCacheOptions{100, 2});
  auto sel = LabelSelector::Parse("team=b");
  ASSERT_TRUE(sel.ok());
  auto by_label = cache.Watch(WatchFilter{"Infrastructure", "", *sel}, "");
  auto by_name = cache.Watch(WatchFilter{"Infrastructure", "x", {}}, "");
  ASSERT_TRUE(by_label.ok() && by_name.ok());
  auto third = cache.Watch(WatchFilter{"Infrastructure", "", {}}, "");
  EXPECT_EQ(third.status().code(), Status::Code::kUnavailable);
  ASSERT_TRUE(store.Put(Infra("x")).ok());
  ASSERT_TRUE(store.Put(Infra("y")).ok());
  EXPECT_TRUE(Parse(Drain(by_label->get())).empty());  // team=a on both
  auto ev = Parse(Drain(by_name->get()));
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0].name, "x");
  by_label->reset();
  EXPECT_TRUE(cache.Watch(WatchFilter{"Infrastructure", "", {}}, "").ok());
}

TEST(WatchCache, InitialStateFirstWithoutAVersion) {
  MemoryStore store;
  ASSERT_TRUE(store.Put(Infra("a")).ok());
  WatchCache cache(&store);
  auto w = cache.Watch(WatchFilter{"Infrastructure", "", {}}, "0");
  ASSERT_TRUE(w.ok());
  const std::string raw = Drain(w->get());
  auto ev = Parse(raw);
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0].type + ev[0].name, "ADDEDa");
  // The initial state ends with a BOOKMARK at the version it reflects.
  EXPECT_NE(raw.find("{\"type\":\"BOOKMARK\",\"object\":{\"apiVersion\":\"jellybean.dev/v1alpha1\",\"kind\":"
                     "\"Infrastructure\",\"metadata\":{\"resourceVersion\":\"" +
                     std::to_string(cache.version()) + "\"}}}"),
            std::string::npos)
      << raw;
  EXPECT_NE((*w)->Bookmark().find("\"BOOKMARK\""), std::string::npos);
  EXPECT_FALSE(cache.Watch(WatchFilter{"Infrastructure", "", {}}, "abc").ok());
}

// Regression: the objects present when the cache started were keyed by a moved-from name, so the
// first change after a daemon restart re-announced them as ADDED (and an empty-named DELETED).
TEST(WatchCache, ObjectsPresentAtStartAreNotReannounced) {
  MemoryStore store;
  ASSERT_TRUE(store.Put(Infra("a")).ok());
  WatchCache cache(&store);
  auto w = cache.Watch(WatchFilter{"Infrastructure", "", {}}, std::to_string(cache.version()));
  ASSERT_TRUE(w.ok());
  ASSERT_TRUE(store.Put(Infra("b")).ok());
  auto ev = Parse(Drain(w->get()));
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0].type + ev[0].name, "ADDEDb");
}

TEST(LabelSelector, TheKubernetesSubset) {
  std::map<std::string, std::string> l = {{"a", "b"}, {"e", "x"}};
  auto m = [&](const std::string& s) {
    auto sel = LabelSelector::Parse(s);
    EXPECT_TRUE(sel.ok()) << s;
    return sel.ok() && sel->Matches(l);
  };
  EXPECT_TRUE(m(""));
  EXPECT_TRUE(m("a=b"));
  EXPECT_TRUE(m("a==b"));
  EXPECT_FALSE(m("a=c"));
  EXPECT_TRUE(m("a=b,c!=d,e in (x,y),!f"));
  EXPECT_FALSE(m("a=b,!e"));
  EXPECT_FALSE(m("e notin (x, y)"));
  EXPECT_TRUE(m("e notin (z)"));
  EXPECT_TRUE(m("a"));
  EXPECT_FALSE(m("f"));
  EXPECT_FALSE(m("e in (y)"));
  for (const char* bad : {"a in (x", "a in ()", "=b", "a foo (x)", "a=b,,c"})
    EXPECT_FALSE(LabelSelector::Parse(bad).ok()) << bad;
}

}  // namespace
}  // namespace jb
