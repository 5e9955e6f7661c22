// ApiServer: the REST API's logic, independent of the HTTP library (daemon/http.h):
//   /healthz (no auth), /readyz, /metrics (Prometheus text),
//   /apis, /apis/jellybean.dev, /apis/jellybean.dev/v1alpha1: discovery (APIGroupList, APIGroup,
//     APIResourceList),
//   /apis/jellybean.dev/v1alpha1/{workflows,modelprofiles,infrastructures}: GET (list;
//     ?labelSelector=, ?watch=true&resourceVersion=N&fieldSelector=metadata.name=X&timeoutSeconds=S),
//     POST (create: 409 AlreadyExists when present),
//   .../KIND/NAME: GET (?watch=true too), PUT (create or update), PATCH (application/merge-patch+json,
//     RFC 7386), DELETE; ?dryRun=All on POST/PUT/PATCH/DELETE validates and answers without writing,
//   /apis/jellybean.dev/v1alpha1/workflows/NAME/status GET (the whole object, as Kubernetes),
//   /apis/jellybean.dev/v1alpha1/events[/KIND/NAME] GET (recent events).
// Every path under .../v1alpha1/ may also be written .../v1alpha1/namespaces/default/...: there is
// one namespace, "default" (others get 404).
// Watch (daemon/watch_cache.h): streamed JSON lines {"type":"ADDED|MODIFIED|DELETED|BOOKMARK|ERROR",
// "object":{...}}, a BOOKMARK after every bookmark interval without events; 410 Gone (reason
// Expired) when resourceVersion is older than the history; 429 when too many watches are open;
// 503 when the server has no watch cache.
// Every endpoint but /healthz needs "Authorization: Bearer <token>" (scheme in any case; 401
// otherwise). A request with a body is judged on its headers first (HttpRequest::body_pending):
// without a valid token it gets 401, over the size limit 413, and its body is never read. Bodies are
// YAML or JSON; invalid ones get 400 with every file:line:col diagnostic; unknown kinds 404; stale
// resourceVersion 409.
// Thread-safety: Handle is thread-safe.
#pragma once

#include <atomic>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "daemon/http.h"
#include "daemon/metrics.h"
#include "daemon/watch_cache.h"
#include "reconciler/controller.h"
#include "reconciler/events.h"
#include "reconciler/store.h"

namespace jb {

class ApiServer {
 public:
  // Borrows store and controller (controller may be null in tests).
  ApiServer(Store* store, const Controller* controller, std::string token, const EventRecorder* events = nullptr)
      : store_(store), controller_(controller), token_(std::move(token)), events_(events) {}

  // The daemon's HttpHandler (daemon/http.h): kHttpContinue for an admitted body_pending request.
  HttpResponse Handle(const HttpRequest& req);
  void SetReady(bool ready) { ready_ = ready; }
  // Once ready, /readyz answers with this verdict and text (set before serving).
  void SetReadiness(std::function<std::pair<bool, std::string>()> fn) { readiness_ = std::move(fn); }
  // Enables ?watch=true (borrowed; must outlive the HTTP server). Not thread-safe: call before serving.
  void SetWatchCache(WatchCache* cache, double bookmark_s = 10) {
    watch_ = cache;
    bookmark_s_ = bookmark_s;
  }
  uint64_t requests() const { return requests_; }
  // The /metrics page (daemon/metrics.h); the daemon gives it the driver.
  DaemonMetrics* metrics() { return &metrics_; }

 private:
  HttpResponse Route(const HttpRequest& req);
  bool Authorized(const HttpRequest& req) const;
  HttpResponse Metrics() const;
  HttpResponse Rollback(const HttpRequest& req, const std::string& name);
  HttpResponse Events(const HttpRequest& req, const std::vector<std::string>& parts) const;
  HttpResponse List(const std::string& kind, const std::map<std::string, std::string>& query) const;
  HttpResponse Watch(const std::string& kind, const std::string& name, const std::map<std::string, std::string>& query);
  // PUT (create=false, name from the URL) and POST (create=true).
  HttpResponse Write(const HttpRequest& req, const std::string& kind, const std::string& name, bool create,
                     bool dry_run);
  HttpResponse Patch(const HttpRequest& req, const std::string& kind, const std::string& name, bool dry_run);

  Store* store_;
  const Controller* controller_;
  const std::string token_;
  const EventRecorder* events_;
  WatchCache* watch_ = nullptr;
  double bookmark_s_ = 10;
  std::atomic<bool> ready_{false};
  std::function<std::pair<bool, std::string>()> readiness_;
  std::atomic<uint64_t> requests_{0};
  DaemonMetrics metrics_{store_, controller_};  // after store_ and controller_ (initialisation order)
};

// The kind for a plural resource name ("workflows" -> "Workflow"), or "" when unknown.
std::string KindForPlural(const std::string& plural);

}  // namespace jb
