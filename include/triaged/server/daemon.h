#pragma once

// Daemon: the process. Owns the main thread's loop (signals, admin endpoints), the validated
// configuration, the router and the workers. Binds every listener before any worker starts, so
// a bad address fails startup, and announces readiness with one "listening" log line.

#include <atomic>
#include <memory>
#include <vector>

#include "triaged/admin/admin_server.h"
#include "triaged/config/config.h"
#include "triaged/core/event_loop.h"
#include "triaged/observe/metrics.h"
#include "triaged/observe/triage_store.h"
#include "triaged/proxy/router.h"
#include "triaged/server/certificate_watch.h"
#include "triaged/server/worker.h"

namespace triaged::server {

class Daemon {
 public:
  explicit Daemon(config::Config config);
  ~Daemon();
  Daemon(const Daemon&) = delete;
  Daemon& operator=(const Daemon&) = delete;

  // Binds, starts the workers, and serves until a signal drains the daemon. Returns the exit
  // code. Throws std::runtime_error for startup failures (bind errors and the like).
  int run();

 private:
  static void onSignal(evutil_socket_t sig, short, void* ctx) noexcept;
  void handleSignal(int sig);
  void ignoreSignalsAfterDrain();
  void onWorkerStopped();
  // server.tls_listen: one listening socket per worker (SO_REUSEPORT) and the serving
  // context; returns the bound address. Throws std::runtime_error at startup.
  net::SocketAddress bindTlsListeners(std::vector<int>& fds,
                                      std::shared_ptr<const net::TlsServerContext>& context);

  EventLoop loop_;  // first: destroyed last
  config::Config config_;
  proxy::Router router_;
  diagnose::HintCatalog hints_;
  observe::MetricsRegistry metrics_;
  observe::TriageStore triage_;
  std::unique_ptr<admin::AdminServer> admin_;
  std::vector<std::unique_ptr<Worker>> workers_;
  std::unique_ptr<CertificateWatch> certificate_watch_;
  std::vector<EventPtr> signal_events_;
  std::atomic<bool> draining_{false};
  uint32_t stopped_workers_ = 0;
  int signals_seen_ = 0;
};

}  // namespace triaged::server
