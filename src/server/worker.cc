#include "triaged/server/worker.h"

#include <malloc.h>
#include <unistd.h>

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

Worker::Worker(const config::Config& config, const proxy::Router& router,
               const diagnose::HintCatalog& hints, observe::WorkerMetrics& metrics,
               observe::TriageRecorder& triage, int listen_fd, uint32_t index,
               std::function<void()> on_stopped)
    : config_(config),
      router_(router),
      metrics_(metrics),
      index_(index),
      on_stopped_(std::move(on_stopped)),
      failures_(loop_, config.log, hints, triage),
      resolver_(loop_, config.server.dns_servers),
      max_clients_(
          std::max<uint32_t>(1, (config.server.max_client_connections + config.server.workers - 1) /
                                    config.server.workers)),
      accept_pauses_(loop_, "data", metrics.listener),
      drain_deadline_(loop_, [this] { forceClose(); }),
      memory_trim_(loop_, [this] { trimMemory(); }) {
  for (size_t i = 0; i < config_.upstreams.size(); ++i) {
    clusters_.push_back(std::make_unique<proxy::UpstreamCluster>(
        loop_, resolver_, config_.upstreams[i], config_.server.workers, config_.server.dns_refresh,
        *metrics_.upstreams[i], failures_));
  }
  listener_ = std::make_unique<net::Listener>(
      loop_, listen_fd,
      [this](int fd, const sockaddr* addr, socklen_t len) { accept(fd, addr, len); },
      [this](int err) { onAcceptPaused(err); });
  memory_trim_.arm(kTrimInterval);
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

proxy::UpstreamCluster* Worker::cluster(std::string_view name) {
  for (auto& c : clusters_) {
    if (c->name() == name) return c.get();
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
  drain_deadline_.arm(config_.server.drain_timeout);
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
