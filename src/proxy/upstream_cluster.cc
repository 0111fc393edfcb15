#include "triaged/proxy/upstream_cluster.h"

#include <algorithm>
#include <cerrno>
#include <ctime>
#include <stdexcept>

#include "triaged/diagnose/failure_table.h"
#include "triaged/observe/loggers.h"
#include "triaged/proxy/endpoint_probe.h"

namespace triaged::proxy {

using diagnose::FailureCause;

namespace {

std::string wallClock(std::chrono::system_clock::time_point t) {
  const std::time_t tt = std::chrono::system_clock::to_time_t(t);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  return fmt::format("{:02}:{:02}:{:02}Z", tm.tm_hour, tm.tm_min, tm.tm_sec);
}

// The cause a failed connect was reported under (for endpoint events).
FailureCause connectCause(int err) {
  if (err == ECONNREFUSED) return FailureCause::ConnectRefused;
  if (err == 0 || err == ETIMEDOUT) return FailureCause::ConnectTimeout;
  return FailureCause::ConnectError;
}

}  // namespace

Endpoint::Endpoint() = default;
Endpoint::~Endpoint() = default;

// --- UpstreamConnection ---------------------------------------------------------------------

UpstreamConnection::UpstreamConnection(UpstreamCluster& cluster, Endpoint& endpoint, int fd,
                                       const net::SocketAddress& address, EventLoop& loop)
    : cluster_(cluster),
      endpoint_(endpoint),
      address_(address),
      connection_(loop, fd, this, /*connecting=*/true),
      response_parser_(http::MessageParser::Type::Response,
                       cluster.config().max_response_header_bytes),
      loop_(loop),
      idle_timer_(loop, [this] { onIdleTimer(); }) {
  // An upstream that answers early and resets with the request body unread: its answer is read
  // before the reset is reported (net::Connection::onWriteFailed).
  connection_.setReadOnWriteError(true);
  if (const net::TlsClientContext* tls = cluster.tls()) {
    connection_.startTls(std::make_unique<net::TlsSession>(
        *tls, fd, cluster.tlsServerName(endpoint), &endpoint.tls_session));
  }
  cluster_.onConnectionOpened(endpoint_);
}

UpstreamConnection::~UpstreamConnection() {
  connection_.close();
  cluster_.onConnectionClosed(endpoint_, idle);
}

void UpstreamConnection::setOwner(net::ConnectionCallbacks* owner) {
  owner_ = owner;
  connection_.setCallbacks(owner != nullptr ? owner : this);
  if (owner == nullptr) {
    // Idle: read so that a FIN or RST from the upstream is noticed and the connection dropped
    // before a request is sent on it; drop it ourselves before the upstream's own timeout.
    connection_.setTimeouts(std::chrono::milliseconds(0), std::chrono::milliseconds(0));
    connection_.enableRead();
    // Armed once per idle spell at most, not on every request: a timer still pending from an
    // earlier spell fires early and arms again for what is left (onIdleTimer). That spares an
    // event_add and an event_del per request on a busy connection.
    if (!idle_timer_.armed()) idle_timer_.arm(cluster_.config().keepalive_idle_timeout);
  }
}

void UpstreamConnection::onIdleTimer() {
  if (owner_ != nullptr || draining_) return;  // in use: armed again when it next goes idle
  const auto timeout = cluster_.config().keepalive_idle_timeout;
  const auto idle_for = loop_.now() - idle_since;
  if (idle_for < timeout) {
    idle_timer_.arm(std::chrono::ceil<std::chrono::milliseconds>(timeout - idle_for));
    return;
  }
  cluster_.closeIdleConnection(*this);
}

void UpstreamConnection::onReadable() {
  if (draining_) {
    drainInput();
    return;
  }
  // Bytes from an idle upstream answer no request: the connection cannot be trusted.
  cluster_.onIdleClosedByUpstream(*this);
}

void UpstreamConnection::onWriteDrained() {}

void UpstreamConnection::onEvent(short what, int) {
  // Idle or draining, any event (the upstream's FIN or RST, the drain deadline) ends it.
  if (draining_) {
    endDrain((what & net::kEventDeadline) != 0 ? observe::DrainResult::Timeout
                                               : observe::DrainResult::UpstreamClosed);
    return;
  }
  cluster_.onIdleClosedByUpstream(*this);
}

// --- draining the response of a client that went away ---------------------------------------

void UpstreamConnection::startDrain(uint64_t max_body, MonotonicTime deadline) {
  draining_ = true;
  drain_verdict_ = observe::DrainResult::Pooled;
  drain_interim_ = false;
  drain_body_left_ = max_body;
  owner_ = nullptr;
  connection_.setCallbacks(this);
  response_parser_.setCallbacks(this);
  connection_.setTimeouts(std::chrono::milliseconds(0), std::chrono::milliseconds(0));
  connection_.setDeadline(deadline);
  connection_.enableRead();
  if (response_parser_.headComplete()) judgeHead();  // the session had read the head already
  if (drain_verdict_ != observe::DrainResult::Pooled) {
    endDrain(drain_verdict_);
    return;
  }
  // The session may have stopped reading for a slow client, with bytes already in the input.
  drainInput();
}

void UpstreamConnection::drainInput() {
  using S = http::MessageParser::Status;
  while (draining_) {
    const std::string_view in = connection_.inputData();
    if (in.empty()) return;
    const auto r = response_parser_.feed(in.data(), in.size());
    connection_.consumeInput(r.consumed);
    if (drain_verdict_ != observe::DrainResult::Pooled) {
      endDrain(drain_verdict_);
      return;
    }
    if (r.status == S::Error || r.status == S::Upgrade) {
      endDrain(r.status == S::Error ? observe::DrainResult::Malformed
                                    : observe::DrainResult::NotReusable);
      return;
    }
    if (r.status == S::MessageComplete) {
      if (drain_interim_) {  // a 100 or 103: the final response follows
        drain_interim_ = false;
        response_parser_.resume();
        continue;
      }
      // Bytes behind the response answer no request: the connection cannot be trusted.
      endDrain(connection_.inputLength() == 0 ? observe::DrainResult::Pooled
                                              : observe::DrainResult::NotReusable);
      return;
    }
  }
}

void UpstreamConnection::endDrain(observe::DrainResult result) {
  draining_ = false;
  response_parser_.setCallbacks(nullptr);
  connection_.clearDeadline();
  cluster_.finishDrain(*this, result);  // *this may be gone (or pooled) from here on
}

void UpstreamConnection::onHead() {
  const http::ResponseHead& resp = response_parser_.response();
  if (resp.status >= 100 && resp.status < 200 && resp.status != 101) {
    drain_interim_ = true;
    return;
  }
  judgeHead();
}

void UpstreamConnection::judgeHead() {
  const http::ResponseHead& resp = response_parser_.response();
  if (resp.status == 101 || !resp.keep_alive || resp.framing == http::BodyFraming::UntilClose) {
    drain_verdict_ = observe::DrainResult::NotReusable;
  } else if (resp.framing == http::BodyFraming::ContentLength &&
             response_parser_.contentLengthLeft() > drain_body_left_) {
    drain_verdict_ = observe::DrainResult::TooLarge;
  }
}

void UpstreamConnection::onBody(const char*, size_t len) {
  if (len > drain_body_left_) {
    drain_verdict_ = observe::DrainResult::TooLarge;
    return;
  }
  drain_body_left_ -= len;
}

void UpstreamConnection::onMessageComplete(const http::Headers&) {}

// --- UpstreamCluster ------------------------------------------------------------------------

UpstreamCluster::UpstreamCluster(EventLoop& loop, net::Resolver& resolver, UpstreamConfigPtr config,
                                 uint32_t workers, std::chrono::milliseconds dns_refresh,
                                 observe::UpstreamMetrics& metrics,
                                 const observe::FailureReporter& reporter)
    : loop_(loop),
      resolver_(resolver),
      metrics_(metrics),
      reporter_(reporter),
      config_(std::move(config)),
      workers_(workers),
      max_connections_(std::max<uint32_t>(1, (config_->max_connections + workers - 1) / workers)),
      max_pending_((config_->max_pending + workers - 1) / workers),
      dns_refresh_(dns_refresh),
      wake_timer_(loop, [this] { wakeWaiters(wake_all_); }),
      refresh_timer_(loop, [this] {
        for (auto& ep : endpoints_) {
          if (ep->dns_state != Endpoint::DnsState::Literal && !ep->query) resolve(*ep);
        }
        refresh_timer_.arm(dns_refresh_);
      }) {
  if (config_->tls) {
    // Validated with the configuration; a file that went bad since stops the start like it.
    net::TlsLoadError error;
    tls_ = net::TlsClientContext::load(net::tlsClientSettings(*config_), error);
    if (!tls_) throw std::runtime_error("upstream " + config_->name + ": " + error.reason);
  }
  bool any_name = false;
  for (const auto& hp : config_->endpoints) {
    auto ep = std::make_unique<Endpoint>();
    ep->configured = hp;
    ep->name = hp.toString();
    if (hp.is_ip_literal) {
      auto addr = net::socketAddressFromLiteral(hp);
      if (addr) ep->addresses.push_back(*addr);
      ep->dns_state = Endpoint::DnsState::Literal;
    } else {
      ep->dns_state = Endpoint::DnsState::Pending;
      any_name = true;
    }
    endpoints_.push_back(std::move(ep));
  }
  for (auto& ep : endpoints_) {
    if (ep->dns_state == Endpoint::DnsState::Pending) resolve(*ep);
  }
  if (any_name && dns_refresh_.count() > 0) refresh_timer_.arm(dns_refresh_);
}

UpstreamCluster::~UpstreamCluster() {
  // Idle and draining connections report back to this cluster while they die: clear them first.
  draining_.clear();
  for (auto& ep : endpoints_) {
    ep->idle.clear();
    ep->query.reset();
  }
}

const std::string& UpstreamCluster::tlsServerName(const Endpoint& ep) const {
  return config_->tls_server_name.empty() ? ep.configured.host : config_->tls_server_name;
}

void UpstreamCluster::noteTlsHandshake(UpstreamConnection& connection, bool established) {
  const net::TlsSession* session = connection.connection().tls();
  if (session == nullptr) return;
  if (established) {
    metrics_.tls_handshakes[session->resumed() ? 1 : 0].add();
  }
  X509* cert = established ? session->peerCertificate() : session->failedCertificate();
  Endpoint& ep = connection.endpoint();
  // A resumed session shows the certificate of the full handshake it resumes: the same one.
  if (cert == nullptr || (ep.tls_certificate && X509_cmp(cert, ep.tls_certificate.get()) == 0)) {
    return;
  }
  if (X509_up_ref(cert) != 1) return;
  ep.tls_certificate.reset(cert);
  const net::CertificateInfo info = net::describeCertificate(cert);
  if (metrics_.certificates != nullptr) {
    metrics_.certificates->noteUpstream(config_->name, ep.name, info.facts.subject,
                                        info.not_after_unix);
  }
}

void UpstreamCluster::resolve(Endpoint& ep) {
  ep.query = resolver_.resolve(ep.configured.host, ep.configured.port,
                               [this, &ep](const net::Resolution& r) { onResolved(ep, r); });
}

void UpstreamCluster::onResolved(Endpoint& ep, const net::Resolution& r) {
  loop_.refreshNow();  // a DNS answer is an event of its own
  // `r` lives in the query, whose callback this is: destroy the query on the next turn.
  loop_.deferredDestroy(std::move(ep.query));
  if (r.error == 0) {
    ep.addresses = r.addresses;
    // IPv4 first: names like "localhost" answer ::1 too, and most upstreams listen on v4 only;
    // a refused v6 address is still tried in turn after it.
    std::stable_sort(ep.addresses.begin(), ep.addresses.end(),
                     [](const net::SocketAddress& a, const net::SocketAddress& b) {
                       return a.storage.ss_family == AF_INET && b.storage.ss_family != AF_INET;
                     });
    ep.next_address = 0;
    ep.dns_state = Endpoint::DnsState::Resolved;
    ep.dns_error.clear();
    auto& log = observe::logger(observe::LoggerId::Upstream);
    if (log.should_log(spdlog::level::debug)) {
      std::string list;
      for (const auto& a : ep.addresses) {
        if (!list.empty()) list += ',';
        list += a.toString();
      }
      log.debug(observe::LogEvent("dns_resolved")
                    .add("upstream", config_->name)
                    .add("endpoint", ep.name)
                    .add("addresses", list)
                    .str());
    }
  } else if (r.nameNotFound() || ep.addresses.empty()) {
    // A name that does not exist fails now; a passing DNS outage keeps the last good answer.
    ep.dns_state = Endpoint::DnsState::Failed;
    ep.addresses.clear();
    ep.dns_error = r.error_text;
    observe::logger(observe::LoggerId::Upstream)
        .warn(observe::LogEvent("dns_failure")
                  .add("upstream", config_->name)
                  .add("endpoint", ep.name)
                  .add("error", r.error_text)
                  .str());
  } else {
    ep.dns_error = r.error_text;
  }
  wakeWaiters(true);
}

Endpoint* UpstreamCluster::pickEndpoint(const Endpoint* avoid, bool& dns_pending,
                                        Endpoint*& dns_failed) {
  const size_t n = endpoints_.size();
  const auto usable = [&](Endpoint* ep) {
    if (ep->dns_state == Endpoint::DnsState::Pending && ep->addresses.empty()) {
      dns_pending = true;
      return false;
    }
    if (ep->dns_state == Endpoint::DnsState::Failed) {
      dns_failed = ep;
      return false;
    }
    return !ep->addresses.empty();
  };
  // Healthy endpoints, round robin; the one a retry moves away from only when it is the last.
  Endpoint* avoided = nullptr;
  for (size_t i = 0; i < n; ++i) {
    Endpoint* ep = endpoints_[(next_endpoint_ + i) % n].get();
    if (ep->health.down() || !usable(ep)) continue;
    if (ep == avoid) {
      avoided = ep;
      continue;
    }
    next_endpoint_ = (next_endpoint_ + i + 1) % n;
    return ep;
  }
  if (avoided != nullptr) return avoided;
  // None healthy: the down ones anyway, least recently failed first (Envoy's panic mode; nginx
  // never marks its only server down). The true cause beats a 503 that hides it.
  Endpoint* best = nullptr;
  for (auto& owned : endpoints_) {
    Endpoint* ep = owned.get();
    if (!ep->health.down() || !usable(ep)) continue;
    const bool better =
        best == nullptr || (best == avoid && ep != avoid) ||
        ((ep == avoid) == (best == avoid) && ep->health.lastFailure() < best->health.lastFailure());
    if (better) best = ep;
  }
  return best;
}

Acquired UpstreamCluster::acquire(ClusterWaiter& waiter, const Endpoint* avoid, bool fresh_only,
                                  bool replayable, bool had_turn) {
  Acquired out;
  // First come, first served: while requests wait for a connection, a newcomer waits behind them
  // instead of taking the connection the next one in line was woken for. Without this, a queue
  // at max_connections starved its oldest requests for seconds (p99 0.6-0.9 s at c=512 on the
  // defaults, in the benchmark).
  if (!had_turn && !waiters_.empty()) {
    if (waiters_.size() >= max_pending_) {
      out.cause = FailureCause::LocalOverload;
      out.detail = fmt::format(
          "max_connections and max_pending reached: {} of {} connections busy and {} of {} "
          "waiting in this worker, rejected at once",
          open_, max_connections_, waiters_.size(), max_pending_);
      return out;
    }
    waiters_.push_back(&waiter);
    if (idleConnections() > 0 || open_ < max_connections_)
      wake_timer_.arm(std::chrono::milliseconds(0));
    out.kind = Acquired::Kind::Waiting;
    return out;
  }
  // A request that had its turn and must wait again keeps its place at the front.
  const auto enqueue = [this, &waiter, had_turn] {
    if (had_turn) {
      waiters_.push_front(&waiter);
    } else {
      waiters_.push_back(&waiter);
    }
  };
  bool dns_pending = false;
  Endpoint* dns_failed = nullptr;
  Endpoint* chosen = pickEndpoint(avoid, dns_pending, dns_failed);

  if (chosen == nullptr) {
    if (dns_pending) {
      enqueue();
      out.kind = Acquired::Kind::Waiting;
      return out;
    }
    if (dns_failed != nullptr) {
      out.cause = FailureCause::DnsFailure;
      out.endpoint = dns_failed;
      out.detail = dns_failed->dns_error;
      // Try the name again soon: it may have been created since.
      if (!dns_failed->query) resolve(*dns_failed);
      return out;
    }
    // Nothing to try at all: no endpoint has an address (a resolution that gave none). Endpoints
    // marked down are never the reason: they are tried anyway.
    out.cause = FailureCause::NoHealthyEndpoint;
    out.detail = "no endpoint of the upstream has an address to connect to";
    return out;
  }
  out.endpoint = chosen;

  if (!fresh_only) {
    if (UpstreamConnectionPtr pooled = takeIdle(*chosen, replayable)) {
      out.connection = std::move(pooled);
      out.kind = Acquired::Kind::Reused;
      return out;
    }
  }

  if (open_ >= max_connections_) {
    // Full: make room by closing an idle connection to another endpoint, else queue.
    if (UpstreamConnection* victim = oldestIdleElsewhere(nullptr)) {
      closeIdleConnection(*victim);
    }
  }
  if (open_ >= max_connections_) {
    if (waiters_.size() >= max_pending_) {
      out.cause = FailureCause::LocalOverload;
      // The limits are per worker (the configured ones split over the workers): say so, with
      // what was in use, so the operator sees which of the two filled up.
      out.detail = fmt::format(
          "max_connections and max_pending reached: {} of {} connections busy and {} of {} "
          "waiting in this worker, rejected at once",
          open_, max_connections_, waiters_.size(), max_pending_);
      return out;
    }
    enqueue();
    out.kind = Acquired::Kind::Waiting;
    return out;
  }

  const net::SocketAddress& addr =
      chosen->addresses[chosen->next_address % chosen->addresses.size()];
  chosen->next_address++;
  net::ConnectStart start = net::startConnect(addr);
  if (start.fd < 0) {
    out.cause =
        start.err == ECONNREFUSED ? FailureCause::ConnectRefused : FailureCause::ConnectError;
    out.err = start.err;
    reportConnect(*chosen, false, start.err);
    return out;
  }
  out.connection = std::make_unique<UpstreamConnection>(*this, *chosen, start.fd, addr, loop_);
  out.kind = Acquired::Kind::Connecting;
  return out;
}

std::optional<std::chrono::milliseconds> UpstreamCluster::knownIdleLimit(
    const UpstreamConnection& c) const {
  std::optional<std::chrono::milliseconds> limit;
  if (c.advertised_idle.count() > 0) limit = c.advertised_idle;
  const auto learned = c.endpoint().learned_idle_close;
  if (learned.count() > 0 && (!limit || learned < *limit)) limit = learned;
  return limit;
}

UpstreamConnectionPtr UpstreamCluster::takeIdle(Endpoint& ep, bool replayable) {
  using std::chrono::milliseconds;
  const auto now = loop_.now();
  auto& avoided = metrics_.keepalive_races[static_cast<size_t>(observe::RaceOutcome::Avoided)];
  // Most recently used first: the one least likely to be closing.
  while (!ep.idle.empty()) {
    UpstreamConnection& c = *ep.idle.back();
    const auto idle = std::chrono::duration_cast<milliseconds>(now - c.idle_since);
    const auto limit = knownIdleLimit(c);
    // Retire a connection before the upstream's own idle close, with a margin for the FIN in
    // flight and clocks that do not agree: a quarter of the limit, at least 100 ms. (.NET retires
    // at the advertised timeout minus 1 s, which leaves nothing of timeout=1.)
    const bool expiring = limit && idle >= *limit - std::max(milliseconds(100), *limit / 4);
    const bool spent = c.remaining_requests == 0;
    // Closed a moment ago, before the loop saw it: never write into a connection already gone.
    const bool gone = !expiring && !spent && idle >= kPeekAfter && c.connection().peerActiveNow();
    if (expiring || spent || gone) {
      if (expiring || gone) avoided.add();
      if (gone) learnIdleClose(ep, idle);
      closeIdleConnection(c);
      continue;
    }
    if (!replayable && config_->reuse == "safe") {
      // A request that could only fail if this connection were closing: only one well inside
      // the upstream's known limit, or one used a moment ago when the limit is unknown.
      const milliseconds safe = limit ? *limit / 2 : kJustUsed;
      if (idle > safe) {
        avoided.add();
        return nullptr;  // a new connection; this one stays for a request that can be replayed
      }
    }
    UpstreamConnectionPtr out = std::move(ep.idle.back());
    ep.idle.pop_back();
    out->idle = false;
    if (out->remaining_requests > 0) --out->remaining_requests;
    metrics_.connections_idle.add(-1);
    metrics_.connections_active.add(1);
    return out;
  }
  return nullptr;
}

void UpstreamCluster::onIdleClosedByUpstream(UpstreamConnection& connection) {
  // Closed while it sat in the pool: the upstream's idle timeout, most likely. Learn it, so
  // that the next connection is retired before it. (A restart closes them all at once at any
  // idle time: then the lesson is too short, which costs reuse, not requests, and is forgotten
  // after kLearnedIdleCloseMemory.)
  const auto idle =
      std::chrono::duration_cast<std::chrono::milliseconds>(loop_.now() - connection.idle_since);
  if (connection.idle) learnIdleClose(connection.endpoint(), idle);
  closeIdleConnection(connection);
}

void UpstreamCluster::learnFromRace(Endpoint& ep, std::chrono::milliseconds idle) {
  learnIdleClose(ep, idle);
}

void UpstreamCluster::learnIdleClose(Endpoint& ep, std::chrono::milliseconds idle) {
  // A connection that dies within moments of its last use was not closed for being idle: the
  // app crashed, restarted or answered "Connection: close" its own way. Learning that would
  // retire every connection at once and end reuse.
  if (idle < kMinIdleCloseToLearn) return;
  const auto now = loop_.now();
  const bool stale = now - ep.learned_at > kLearnedIdleCloseMemory;
  if (ep.learned_idle_close.count() > 0 && !stale && idle >= ep.learned_idle_close) {
    // Not shorter: it confirms the lesson when it is close to it, keeping it from being forgotten.
    if (idle <= ep.learned_idle_close * 5 / 4) ep.learned_at = now;
    return;
  }
  {
    const bool changed = idle != ep.learned_idle_close;
    ep.learned_idle_close = idle;
    ep.learned_at = now;
    if (changed) {
      observe::logger(observe::LoggerId::Upstream)
          .info(observe::LogEvent("upstream_idle_close_learned")
                    .add("upstream", config_->name)
                    .add("endpoint", ep.name)
                    .add("idle_close_ms", static_cast<int64_t>(idle.count()))
                    .add("keepalive_idle_timeout_ms",
                         static_cast<int64_t>(config_->keepalive_idle_timeout.count()))
                    .str());
    }
  }
  publishIdleClose();
}

void UpstreamCluster::noteAdvertisedIdle(Endpoint& ep, std::chrono::milliseconds timeout) {
  if (timeout == ep.advertised_idle) return;
  ep.advertised_idle = timeout;
  publishIdleClose();
}

void UpstreamCluster::publishIdleClose() {
  int64_t shortest = 0;
  for (const auto& ep : endpoints_) {
    for (const auto limit : {ep->learned_idle_close, ep->advertised_idle}) {
      const auto ms = limit.count();
      if (ms > 0 && (shortest == 0 || ms < shortest)) shortest = ms;
    }
    const bool learned =
        ep->learned_idle_close.count() > 0 &&
        (ep->advertised_idle.count() == 0 || ep->learned_idle_close <= ep->advertised_idle);
    const auto known = learned ? ep->learned_idle_close : ep->advertised_idle;
    if (known.count() > 0) {
      reporter_.noteIdleClose(config_->name, ep->name, known,
                              learned ? "learned from its closes" : "its Keep-Alive header",
                              config_->keepalive_idle_timeout);
    }
  }
  metrics_.idle_close_ms.add(shortest - metrics_.idle_close_ms.get());
}

std::string UpstreamCluster::idleCloseText(const Endpoint& ep) const {
  const bool learned =
      ep.learned_idle_close.count() > 0 &&
      (ep.advertised_idle.count() == 0 || ep.learned_idle_close <= ep.advertised_idle);
  if (learned) {
    return fmt::format("about {:.1f} s (learned from the connections it closed)",
                       static_cast<double>(ep.learned_idle_close.count()) / 1000.0);
  }
  if (ep.advertised_idle.count() > 0) {
    return fmt::format("{} s (its Keep-Alive: timeout)", ep.advertised_idle.count() / 1000);
  }
  return "an unknown time (it has not said, and triaged has not seen it close one yet)";
}

void UpstreamCluster::cancelWait(ClusterWaiter& waiter) {
  auto it = std::find(waiters_.begin(), waiters_.end(), &waiter);
  if (it != waiters_.end()) waiters_.erase(it);
}

bool UpstreamCluster::poolHasRoom(const Endpoint& ep) const {
  // Unset: sized from demand. Every connection that a request used may wait for the next one
  // (the pool can never outgrow max_connections, the bound on all open connections), and
  // keepalive_idle_timeout closes those that demand no longer needs. A fixed cap below the
  // concurrency of an ordinary load closed and reopened connections on every burst.
  return !config_->max_idle_connections || ep.idle.size() < *config_->max_idle_connections;
}

void UpstreamCluster::updateConfig(UpstreamConfigPtr config) {
  const bool tls_changed =
      config->tls != config_->tls || config->tls_verify != config_->tls_verify ||
      config->tls_ca != config_->tls_ca || config->tls_server_name != config_->tls_server_name ||
      config->tls_client_cert != config_->tls_client_cert ||
      config->tls_client_key != config_->tls_client_key;
  if (tls_changed) {
    // Other TLS settings (or files re-read by the reload): pooled connections and sessions were
    // made under the old ones, so they go; connections in use finish as they are.
    std::shared_ptr<const net::TlsClientContext> next;
    net::TlsLoadError error;
    if (config->tls) next = net::TlsClientContext::load(net::tlsClientSettings(*config), error);
    if (config->tls && !next) {
      observe::logger(observe::LoggerId::Upstream)
          .error(observe::LogEvent("tls_settings_not_applied")
                     .add("upstream", config->name)
                     .add("reason", error.reason)
                     .str());
      return;  // validated by the reload a moment ago: a file that changed since
    }
    tls_ = std::move(next);
    for (auto& ep : endpoints_) {
      ep->idle.clear();
      ep->tls_session.session.reset();
      ep->tls_certificate.reset();
    }
  }
  config_ = std::move(config);
  max_connections_ = std::max<uint32_t>(1, (config_->max_connections + workers_ - 1) / workers_);
  max_pending_ = (config_->max_pending + workers_ - 1) / workers_;
  // A larger limit may let waiters in now.
  if (!waiters_.empty()) wake_timer_.arm(std::chrono::milliseconds(0));
}

void UpstreamCluster::retire() {
  retired_ = true;
  refresh_timer_.disarm();
  for (auto& ep : endpoints_) {
    if (ep->probe) ep->probe->stop();
    ep->idle.clear();
  }
  draining_.clear();
}

void UpstreamCluster::release(UpstreamConnectionPtr connection, bool reusable) {
  if (!connection) return;
  Endpoint& ep = connection->endpoint();
  if (retired_ || !reusable || !connection->connection().open() || !poolHasRoom(ep)) {
    connection.reset();  // onConnectionClosed wakes a waiter
    return;
  }
  connection->requests_served++;
  connection->idle_since = loop_.now();
  connection->idle = true;
  metrics_.connections_active.add(-1);
  metrics_.connections_idle.add(1);
  connection->setOwner(nullptr);
  ep.idle.push_back(std::move(connection));
  if (!waiters_.empty()) {
    wake_all_ = false;
    wake_timer_.arm(std::chrono::milliseconds(0));
  }
}

void UpstreamCluster::reportConnect(Endpoint& ep, bool success, int err) {
  auto& log = observe::logger(observe::LoggerId::Upstream);
  if (success) {
    const uint32_t failed = ep.health.consecutiveFailures();
    const bool was_down = ep.health.down();
    const auto down_for = loop_.now() - ep.health.downSince();
    ep.health.onConnectSuccess();
    if (ep.probe) ep.probe->stop();
    if (failed == 0) return;
    // Failing, then accepting again: after refused connects, the classic signature of a process
    // that restarted.
    diagnose::HintFields f;
    f.upstream = config_->name;
    f.endpoint = ep.name;
    f.cause = diagnose::causeName(connectCause(ep.failure_err));
    f.errno_name = ep.failure_err != 0 ? std::string(net::errnoName(ep.failure_err)) : "ETIMEDOUT";
    f.first_failed = wallClock(ep.failed_from);
    f.last_failed = wallClock(ep.failed_until);
    f.failed_connects = std::to_string(failed);
    // The keys of v1, when only refusals were followed, stay refused_*; other causes get
    // failed_* (so a script reading refused_connects never counts timeouts as refusals).
    const bool refused = ep.failure_err == ECONNREFUSED;
    const std::string prefix = refused ? "refused" : "failed";
    observe::LogEvent line("endpoint_recovered");
    line.add("upstream", config_->name)
        .add("endpoint", ep.name)
        .add("after_cause", f.cause)
        .add(prefix + "_connects", failed)
        .add(prefix + "_from", f.first_failed)
        .add(prefix + "_until", f.last_failed);
    if (was_down) {
      const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(down_for).count();
      line.add("down_ms", static_cast<int64_t>(ms));
      f.down_ms = std::to_string(ms);
    }
    line.add("hint", reporter_.eventHint("endpoint_recovered", f));
    log.warn(line.str());
    return;
  }
  const auto wall = std::chrono::system_clock::now();
  if (ep.health.consecutiveFailures() == 0) ep.failed_from = wall;
  ep.failed_until = wall;
  ep.failure_err = err;
  if (!ep.health.onConnectFailure(loop_.now())) return;
  // Marked down: requests prefer the other endpoints, and a probe watches for its return.
  if (!ep.probe) ep.probe = std::make_unique<EndpointProbe>(loop_, *this, ep);
  ep.probe->start();
  diagnose::HintFields f;
  f.upstream = config_->name;
  f.endpoint = ep.name;
  f.cause = diagnose::causeName(connectCause(err));
  f.errno_name = err != 0 ? std::string(net::errnoName(err)) : "ETIMEDOUT";
  f.failed_connects = std::to_string(ep.health.consecutiveFailures());
  f.first_failed = wallClock(ep.failed_from);
  log.warn(
      observe::LogEvent("endpoint_down")
          .add("upstream", config_->name)
          .add("endpoint", ep.name)
          .add("cause", f.cause)
          .addNameOrNull("errno", net::errnoName(err))
          .add("consecutive_failures", ep.health.consecutiveFailures())
          .add("probe_interval_ms", static_cast<int64_t>(EndpointHealth::kProbeInterval.count()))
          .add("hint", reporter_.eventHint("endpoint_down", f))
          .str());
}

void UpstreamCluster::closeIdle() {
  for (auto& ep : endpoints_) ep->idle.clear();
  draining_.clear();
}

void UpstreamCluster::drain(UpstreamConnectionPtr connection) {
  if (!connection) return;
  UpstreamConnection* raw = connection.get();
  draining_.push_back(std::move(connection));
  raw->startDrain(kDrainMaxBody, loop_.now() + kDrainWindow);  // may end at once
}

void UpstreamCluster::finishDrain(UpstreamConnection& connection, observe::DrainResult result) {
  auto it = std::find_if(draining_.begin(), draining_.end(),
                         [&](const UpstreamConnectionPtr& p) { return p.get() == &connection; });
  if (it == draining_.end()) return;
  UpstreamConnectionPtr done = std::move(*it);
  draining_.erase(it);
  if (result == observe::DrainResult::Pooled && !poolHasRoom(done->endpoint())) {
    result = observe::DrainResult::PoolFull;
  }
  metrics_.drains[static_cast<size_t>(result)].add();
  if (result == observe::DrainResult::Pooled) {
    release(std::move(done), true);
    return;
  }
  // Possibly inside the connection's own callback: destroyed by the loop later.
  done->connection().close();
  loop_.deferredDestroy(std::move(done));
}

void UpstreamCluster::onConnectionOpened(Endpoint& ep) {
  metrics_.connections_active.add(1);
  ++open_;
  ++ep.open_connections;
}

void UpstreamCluster::onConnectionClosed(Endpoint& ep, bool was_idle) {
  (was_idle ? metrics_.connections_idle : metrics_.connections_active).add(-1);
  --open_;
  --ep.open_connections;
  if (!waiters_.empty()) {
    wake_timer_.arm(std::chrono::milliseconds(0));
  }
}

void UpstreamCluster::closeIdleConnection(UpstreamConnection& connection) {
  auto& idle = connection.endpoint().idle;
  auto it = std::find_if(idle.begin(), idle.end(),
                         [&](const UpstreamConnectionPtr& p) { return p.get() == &connection; });
  if (it == idle.end()) return;
  // The connection may be inside its own callback: hand it to the loop to destroy later, but
  // stop its socket and events now.
  UpstreamConnectionPtr doomed = std::move(*it);
  idle.erase(it);
  doomed->connection().close();
  loop_.deferredDestroy(std::move(doomed));
}

uint32_t UpstreamCluster::idleConnections() const {
  uint32_t n = 0;
  for (const auto& ep : endpoints_) n += static_cast<uint32_t>(ep->idle.size());
  return n;
}

UpstreamConnection* UpstreamCluster::oldestIdleElsewhere(const Endpoint* except) {
  UpstreamConnection* oldest = nullptr;
  for (auto& ep : endpoints_) {
    if (ep.get() == except || ep->idle.empty()) continue;
    UpstreamConnection* c = ep->idle.front().get();
    if (oldest == nullptr || c->idle_since < oldest->idle_since) oldest = c;
  }
  return oldest;
}

void UpstreamCluster::wakeWaiters(bool all) {
  wake_all_ = false;
  if (all) {
    std::deque<ClusterWaiter*> batch;
    batch.swap(waiters_);
    for (ClusterWaiter* w : batch) w->onClusterReady();
    return;
  }
  // As many as there are connections to take: idle ones, and free slots.
  const uint32_t free_slots = open_ < max_connections_ ? max_connections_ - open_ : 0;
  size_t n = std::max<size_t>(1, idleConnections() + free_slots);
  while (n-- > 0 && !waiters_.empty()) {
    ClusterWaiter* w = waiters_.front();
    waiters_.pop_front();
    w->onClusterReady();
  }
}

}  // namespace triaged::proxy
