// ApiServer: the REST API's logic, independent of the HTTP library (daemon/http.h):
//   /healthz (no auth), /readyz, /metrics (Prometheus text),
//   /apis/jellybean.dev/v1alpha1/{workflows,modelprofiles,infrastructures}[/NAME] GET/PUT/DELETE,
//   /apis/jellybean.dev/v1alpha1/workflows/NAME/status GET,
//   /apis/jellybean.dev/v1alpha1/events[/KIND/NAME] GET (recent events).
// Every endpoint but /healthz needs "Authorization: Bearer <token>" (scheme in any case; 401
// otherwise). A request with a body is judged on its headers first (HttpRequest::body_pending):
// without a valid token it gets 401, over the size limit 413, and its body is never read. Bodies are
// YAML or JSON; invalid ones get 400 with every file:line:col diagnostic; unknown kinds 404; stale
// resourceVersion 409.
// Thread-safety: Handle is thread-safe.
#pragma once

#include <atomic>
#include <functional>
#include <string>

#include "daemon/http.h"
#include "daemon/metrics.h"
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
  uint64_t requests() const { return requests_; }
  // The /metrics page (daemon/metrics.h); the daemon gives it the driver.
  DaemonMetrics* metrics() { return &metrics_; }

 private:
  HttpResponse Route(const HttpRequest& req);
  bool Authorized(const HttpRequest& req) const;
  HttpResponse Metrics() const;
  HttpResponse Rollback(const HttpRequest& req, const std::string& name);

  Store* store_;
  const Controller* controller_;
  const std::string token_;
  const EventRecorder* events_;
  std::atomic<bool> ready_{false};
  std::function<std::pair<bool, std::string>()> readiness_;
  std::atomic<uint64_t> requests_{0};
  DaemonMetrics metrics_{store_, controller_};  // after store_ and controller_ (initialisation order)
};

// The kind for a plural resource name ("workflows" -> "Workflow"), or "" when unknown.
std::string KindForPlural(const std::string& plural);

}  // namespace jb
