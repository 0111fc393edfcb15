#include "triaged/server/worker.h"

#include <malloc.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "triaged/net/connection.h"
#include "triaged/observe/loggers.h"

namespace triaged::server {

sigset_t daemonSignalSet() {
  sigset_t set;
  sigemptyset(&set);
  for (int sig : kDaemonSignals) sigaddset(&set, sig);
  return set;
}

Worker::Worker(SnapshotPtr snapshot, observe::WorkerMetrics& metrics,
               std::vector<observe::UpstreamMetrics*> upstream_metrics,
               observe::TriageRecorder& triage, int listen_fd, std::function<void()> on_stopped)
    : snapshot_(std::move(snapshot)),
      metrics_(metrics),
      on_stopped_(std::move(on_stopped)),
      failures_(loop_, snapshot_->config.log, snapshot_->hints, triage),
      resolver_(loop_, snapshot_->config.server.dns_servers),
      max_clients_(std::max<uint32_t>(
          1, (snapshot_->max_client_connections + snapshot_->config.server.workers - 1) /
                 snapshot_->config.server.workers)),
      accept_pauses_(loop_, "data", metrics.listener),
      drain_deadline_(loop_, [this] { forceClose(); }),
      memory_trim_(loop_, [this] { trimMemory(); }) {
  const auto& upstreams = snapshot_->config.upstreams;
  for (size_t i = 0; i < upstreams.size(); ++i) {
    clusters_.push_back(makeCluster(upstreams[i], *upstream_metrics[i]));
  }
  listenOn(listen_fd);
  memory_trim_.arm(kTrimInterval);
}

std::shared_ptr<proxy::UpstreamCluster> Worker::makeCluster(const config::UpstreamConfig& config,
                                                            observe::UpstreamMetrics& metrics) {
  // Each worker keeps its own copy of the settings: the sessions' references to them then
  // count on a cache line no other worker touches.
  auto* cluster = new proxy::UpstreamCluster(
      loop_, resolver_, std::make_shared<const config::UpstreamConfig>(config),
      snapshot_->config.server.workers, snapshot_->config.server.dns_refresh, metrics, failures_);
  // Destroyed on a later loop turn: connections it closed are still queued for deletion, and
  // they report to it as they die.
  return std::shared_ptr<proxy::UpstreamCluster>(cluster, [this](proxy::UpstreamCluster* c) {
    loop_.deferredDestroy(std::unique_ptr<proxy::UpstreamCluster>(c));
  });
}

void Worker::listenOn(int fd) {
  auto listener = std::make_unique<net::Listener>(
      loop_, fd,
      [this](int client, const sockaddr* addr, socklen_t len) { accept(client, addr, len); },
      [this](int err) { onAcceptPaused(err); });
  // The new listener accepts before the old one closes: no connect is refused in between.
  listener_ = std::move(listener);
}

void Worker::applySnapshot(SnapshotPtr snapshot,
                           std::vector<observe::UpstreamMetrics*> upstream_metrics, int listen_fd) {
  loop_.post(
      [this, snapshot = std::move(snapshot), metrics = std::move(upstream_metrics),
       listen_fd]() mutable { swapSnapshot(std::move(snapshot), std::move(metrics), listen_fd); });
}

void Worker::swapSnapshot(SnapshotPtr snapshot,
                          std::vector<observe::UpstreamMetrics*> upstream_metrics, int listen_fd) {
  if (draining_) {
    if (listen_fd >= 0) ::close(listen_fd);
    return;
  }
  std::vector<std::shared_ptr<proxy::UpstreamCluster>> next;
  const auto& upstreams = snapshot->config.upstreams;
  for (size_t i = 0; i < upstreams.size(); ++i) {
    const config::UpstreamConfig& u = upstreams[i];
    auto same = std::find_if(clusters_.begin(), clusters_.end(),
                             [&u](const auto& c) { return c && c->name() == u.name; });
    if (same != clusters_.end() && (*same)->config().endpoints == u.endpoints) {
      // Same name and endpoints: keep its pools, health, learned limits (and its metrics slot).
      (*same)->updateConfig(std::make_shared<const config::UpstreamConfig>(u));
      next.push_back(std::move(*same));
      continue;
    }
    next.push_back(makeCluster(u, *upstream_metrics[i]));
  }
  for (auto& old : clusters_) {
    if (old) old->retire();  // removed, or replaced because its endpoints changed
  }
  clusters_ = std::move(next);
  snapshot_ = std::move(snapshot);
  const uint32_t workers = snapshot_->config.server.workers;
  max_clients_ = std::max<uint32_t>(1, (snapshot_->max_client_connections + workers - 1) / workers);
  failures_.reconfigure(snapshot_->config.log, snapshot_->hints);
  if (listen_fd >= 0) listenOn(listen_fd);
  if (connections_.size() < max_clients_) resumeListeners();
}

void Worker::trimMemory() {
  if (loop_.buffers().takeReleasedBytes() > 0) {
#ifdef __GLIBC__
    // madvise()s the free pages of every arena; about a millisecond at most, once per interval.
    malloc_trim(0);
#endif
  }
  memory_trim_.arm(kTrimInterval);
}

Worker::~Worker() {
  // Connections (and whatever they queued for deletion) refer to the clusters: they go first.
  connections_.clear();
  loop_.clearDeferred();
  listener_.reset();
  tls_listener_.reset();
  clusters_.clear();
  loop_.clearDeferred();
}

void Worker::start() {
  thread_ = std::thread([this] {
    const sigset_t handled = daemonSignalSet();
    pthread_sigmask(SIG_BLOCK, &handled, nullptr);
    loop_.run();
    on_stopped_();
  });
}

void Worker::join() {
  if (thread_.joinable()) thread_.join();
}

void Worker::requestDrain() {
  loop_.post([this] { beginDrain(); });
}

void Worker::requestStop() {
  loop_.post([this] { forceClose(); });
}

std::shared_ptr<proxy::UpstreamCluster> Worker::cluster(std::string_view name) {
  for (auto& c : clusters_) {
    if (c->name() == name) return c;
  }
  return nullptr;
}

void Worker::onAcceptPaused(int err) {
  const std::string detail =
      err == 0 ? fmt::format(
                     "{} client connections open in this worker (its share of "
                     "server.max_client_connections); accepting resumes when one closes",
                     connections_.size())
               : fmt::format("{} client connections open in this worker", connections_.size());
  accept_pauses_.onPause(err, detail);
}

void Worker::addTlsListener(int fd, std::shared_ptr<const net::TlsServerContext> context) {
  tls_context_ = std::move(context);
  tls_listener_ = std::make_unique<net::Listener>(
      loop_, fd,
      [this](int client, const sockaddr* addr, socklen_t len) {
        accept(client, addr, len, tls_context_);
      },
      [this](int err) { onAcceptPaused(err); });
}

void Worker::setTlsContext(std::shared_ptr<const net::TlsServerContext> context) {
  loop_.post([this, context = std::move(context)] { tls_context_ = context; });
}

void Worker::pauseListeners() {
  for (auto* l : {listener_.get(), tls_listener_.get()}) {
    if (l != nullptr) l->pauseForLimit();
  }
}

void Worker::resumeListeners() {
  for (auto* l : {listener_.get(), tls_listener_.get()}) {
    if (l != nullptr && l->pausedForLimit()) l->resumeForLimit();
  }
}

void Worker::accept(int fd, const sockaddr* addr, socklen_t len,
                    std::shared_ptr<const net::TlsServerContext> tls) {
  if (draining_) {
    ::close(fd);
    return;
  }
  auto peer = net::socketAddressFrom(addr, len);
  net::prepareAcceptedSocket(fd);
  auto conn = std::make_unique<proxy::ClientConnection>(*this, fd, peer, std::move(tls));
  proxy::ClientConnection* raw = conn.get();
  connections_.push_front(std::move(conn));
  raw->registry_position = connections_.begin();
  metrics_.downstream_connections.add(1);
  if (connections_.size() >= max_clients_) pauseListeners();
  raw->start();
}

void Worker::onClientClosed(proxy::ClientConnection& connection) {
  auto owned = std::move(*connection.registry_position);
  connections_.erase(connection.registry_position);
  metrics_.downstream_connections.add(-1);
  loop_.deferredDelete(std::move(owned));
  if (draining_) {
    maybeStop();
  } else if (connections_.size() < max_clients_) {
    resumeListeners();
  }
}

void Worker::beginDrain() {
  if (draining_) return;
  draining_ = true;
  listener_.reset();  // closes the listening socket: new connections go to no one
  tls_listener_.reset();
  for (auto& c : clusters_) c->closeIdle();
  // drain() may close (and unlink) the connection: step past it first.
  for (auto it = connections_.begin(); it != connections_.end();) {
    auto* c = it->get();
    ++it;
    c->drain();
  }
  drain_deadline_.arm(config().server.drain_timeout);
  maybeStop();
}

void Worker::forceClose() {
  draining_ = true;
  listener_.reset();
  tls_listener_.reset();
  while (!connections_.empty()) connections_.front()->close();
  for (auto& c : clusters_) c->closeIdle();
  maybeStop();
}

void Worker::maybeStop() {
  if (connections_.empty()) {
    drain_deadline_.disarm();
    loop_.exit();
  }
}

}  // namespace triaged::server
