#pragma once

// Worker: one event-loop thread of the data plane. Owns its event loop (declared first, so it
// is destroyed last), its resolver, its view of every upstream (pools, health, limits), its
// SO_REUSEPORT listener and every client connection it accepted. Nothing on the request path
// is shared with other workers, so nothing there takes a lock. Created and joined by the
// Daemon on the main thread; everything else runs on the worker's own thread.

#include <signal.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <list>
#include <memory>
#include <string_view>
#include <thread>
#include <vector>

#include "triaged/config/config.h"
#include "triaged/core/event_loop.h"
#include "triaged/net/listener.h"
#include "triaged/net/resolver.h"
#include "triaged/observe/accept_pauses.h"
#include "triaged/proxy/client_connection.h"
#include "triaged/proxy/router.h"
#include "triaged/proxy/upstream_cluster.h"
#include "triaged/proxy/worker_context.h"
#include "triaged/server/runtime_snapshot.h"

namespace triaged::server {

// The signals the daemon's main loop handles. Worker threads block them for their whole life, so
// that one never lands on a worker while the main thread changes how it is handled.
inline constexpr int kDaemonSignals[] = {SIGTERM, SIGINT, SIGHUP};
// kDaemonSignals as a set, for pthread_sigmask.
sigset_t daemonSignalSet();

class Worker final : public proxy::WorkerContext {
 public:
  // Takes ownership of `listen_fd`. `upstream_metrics` are the slots of the snapshot's
  // upstreams, in its order. `on_stopped` runs on the worker thread when its loop ends.
  Worker(SnapshotPtr snapshot, observe::WorkerMetrics& metrics,
         std::vector<observe::UpstreamMetrics*> upstream_metrics, observe::TriageRecorder& triage,
         int listen_fd, std::function<void()> on_stopped);
  ~Worker() override;
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  // The TLS listener beside the plain one (server.tls_listen): takes ownership of `fd`. Before
  // start().
  void addTlsListener(int fd, std::shared_ptr<const net::TlsServerContext> context);
  // Any thread: new TLS connections use `context` (the certificate was re-read); those already
  // open keep theirs.
  void setTlsContext(std::shared_ptr<const net::TlsServerContext> context);

  void start();
  // Any thread: switch to `snapshot` at the worker's next loop turn (a reload). Upstreams are
  // reconciled by name: unchanged ones keep their pools, health and what they learned (their
  // settings follow the new snapshot), ones whose endpoints changed start afresh, removed ones
  // retire once their requests end. A `listen_fd` (>= 0) replaces the listener: the new one
  // accepts before the old one closes.
  void applySnapshot(SnapshotPtr snapshot, std::vector<observe::UpstreamMetrics*> upstream_metrics,
                     int listen_fd);
  // Any thread: stop accepting, finish in-flight requests within drain_timeout, then stop.
  void requestDrain();
  // Any thread: close every connection now and stop.
  void requestStop();
  void join();

  // WorkerContext
  EventLoop& loop() override { return loop_; }
  const config::Config& config() const override { return snapshot_->config; }
  const proxy::Router& router() const override { return snapshot_->router; }
  std::shared_ptr<proxy::UpstreamCluster> cluster(std::string_view name) override;
  bool draining() const override { return draining_; }
  observe::FailureReporter& failures() override { return failures_; }
  observe::WorkerMetrics& metrics() override { return metrics_; }
  void onClientClosed(proxy::ClientConnection& connection) override;

 private:
  void swapSnapshot(SnapshotPtr snapshot, std::vector<observe::UpstreamMetrics*> upstream_metrics,
                    int listen_fd);
  std::shared_ptr<proxy::UpstreamCluster> makeCluster(const config::UpstreamConfig& config,
                                                      observe::UpstreamMetrics& metrics);
  void listenOn(int fd);
  void accept(int fd, const sockaddr* addr, socklen_t len,
              std::shared_ptr<const net::TlsServerContext> tls = nullptr);
  // Both listeners pause at this worker's share of max_client_connections.
  void pauseListeners();
  void resumeListeners();
  void onAcceptPaused(int err);
  void beginDrain();
  void forceClose();
  void maybeStop();
  // Every kTrimInterval: when a peak sent buffer blocks back to malloc, returns the free pages
  // to the system (glibc keeps them otherwise, and RSS would stay at the peak).
  void trimMemory();
  static constexpr std::chrono::milliseconds kTrimInterval{10000};

  EventLoop loop_;        // first: destroyed last
  SnapshotPtr snapshot_;  // the configuration in force for new requests (loop thread only)
  observe::WorkerMetrics& metrics_;
  std::function<void()> on_stopped_;
  observe::FailureReporter failures_;
  net::Resolver resolver_;
  // Shared with the sessions that use them; a cluster removed by a reload lives until its last
  // session ends, and dies on a later loop turn (its connections refer to it).
  std::vector<std::shared_ptr<proxy::UpstreamCluster>> clusters_;
  // This worker's share of server.max_client_connections: at it, the listener pauses.
  uint32_t max_clients_;
  observe::AcceptPauseReporter accept_pauses_;
  std::unique_ptr<net::Listener> listener_;
  std::unique_ptr<net::Listener> tls_listener_;
  std::shared_ptr<const net::TlsServerContext> tls_context_;
  Timer drain_deadline_;
  Timer memory_trim_;
  std::list<std::unique_ptr<proxy::ClientConnection>> connections_;
  bool draining_ = false;
  std::thread thread_;
};

}  // namespace triaged::server
