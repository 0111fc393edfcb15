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
      hints_(hints),
      metrics_(metrics),
      triage_(triage),
      index_(index),
      on_stopped_(std::move(on_stopped)),
      failure_log_(loop_, config.log.failure_log_burst, config.log.failure_log_interval),
      resolver_(loop_, config.server.dns_servers),
      drain_deadline_(loop_, [this] { forceClose(); }),
      accept_resume_(loop_,
                     [this] {
                       if (listener_) evconnlistener_enable(listener_.get());
                     }),
      memory_trim_(loop_, [this] { trimMemory(); }) {
  for (size_t i = 0; i < config_.upstreams.size(); ++i) {
    clusters_.push_back(std::make_unique<proxy::UpstreamCluster>(
        loop_, resolver_, config_.upstreams[i], config_.server.workers, config_.server.dns_refresh,
        *metrics_.upstreams[i]));
  }
  listener_.reset(evconnlistener_new(
      loop_.base(), &Worker::onAccept, this,
      LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE | LEV_OPT_CLOSE_ON_EXEC, 0, listen_fd));
  if (!listener_) {
    ::close(listen_fd);
    throw std::runtime_error("evconnlistener_new failed");
  }
  evconnlistener_set_error_cb(listener_.get(), &Worker::onAcceptError);
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

void Worker::onAccept(evconnlistener*, evutil_socket_t fd, sockaddr* addr, int len,
                      void* ctx) noexcept {
  static_cast<Worker*>(ctx)->accept(fd, addr, len);
}

void Worker::onAcceptError(evconnlistener* listener, void* ctx) noexcept {
  auto* self = static_cast<Worker*>(ctx);
  const int err = EVUTIL_SOCKET_ERROR();
  observe::logger(observe::LoggerId::Listener)
      .error(observe::LogEvent("accept_error")
                 .addNameOrNull("errno", net::errnoName(err))
                 .add("error", std::strerror(err))
                 .add("worker", self->index_)
                 .str());
  // Out of descriptors: pause accepting briefly instead of spinning on the error.
  evconnlistener_disable(listener);
  self->accept_resume_.arm(std::chrono::milliseconds(100));
}

void Worker::accept(int fd, const sockaddr* addr, int len) {
  loop_.refreshNow();
  if (draining_) {
    ::close(fd);
    return;
  }
  auto peer = net::socketAddressFrom(addr, static_cast<socklen_t>(len));
  net::prepareAcceptedSocket(fd);
  auto conn = std::make_unique<proxy::ClientConnection>(*this, fd, peer);
  proxy::ClientConnection* raw = conn.get();
  connections_.push_front(std::move(conn));
  raw->registry_position = connections_.begin();
  metrics_.downstream_connections.add(1);
  raw->start();
}

void Worker::onClientClosed(proxy::ClientConnection& connection) {
  auto owned = std::move(*connection.registry_position);
  connections_.erase(connection.registry_position);
  metrics_.downstream_connections.add(-1);
  loop_.deferredDelete(std::move(owned));
  if (draining_) maybeStop();
}

void Worker::beginDrain() {
  if (draining_) return;
  draining_ = true;
  listener_.reset();  // closes the listening socket: new connections go to no one
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
