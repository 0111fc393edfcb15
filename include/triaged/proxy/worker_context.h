#pragma once

// What a client connection and its sessions need from the worker they run on. Implemented by
// server::Worker; an interface so the proxy stage does not depend on how workers are built.

#include <memory>
#include <string_view>

#include "triaged/config/config.h"
#include "triaged/core/event_loop.h"
#include "triaged/diagnose/triage_hint.h"
#include "triaged/observe/failure_reporter.h"
#include "triaged/observe/metrics.h"
#include "triaged/observe/triage_store.h"

namespace triaged::proxy {

class Router;
class UpstreamCluster;
class ClientConnection;

class WorkerContext {
 public:
  virtual ~WorkerContext() = default;
  virtual EventLoop& loop() = 0;
  virtual const config::Config& config() const = 0;
  virtual const Router& router() const = 0;
  // The cluster in force for `name`; nullptr for an unknown name (cannot happen after
  // validation). A session keeps it (and so its connections' owner) alive until it ends.
  virtual std::shared_ptr<UpstreamCluster> cluster(std::string_view name) = 0;
  virtual bool draining() const = 0;
  // Every failure, client side or upstream side, is reported here and nowhere else.
  virtual observe::FailureReporter& failures() = 0;
  virtual observe::WorkerMetrics& metrics() = 0;
  // The connection has closed its socket; the worker forgets it and destroys it later.
  virtual void onClientClosed(ClientConnection& connection) = 0;
};

}  // namespace triaged::proxy
