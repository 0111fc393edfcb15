#pragma once

// UpstreamCluster: one [[upstream]] as seen by one worker — its endpoints (addresses, DNS state,
// passive health), the pool of idle keep-alive connections per endpoint, the connection limit
// and the queue of requests waiting for a slot. Owned by its Worker, declared after the
// Resolver and before every connection, so it outlives all of its connections. Loop thread only.
// Limits (max_connections, max_pending) are divided evenly between workers, so no lock is shared.

#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "triaged/config/config.h"
#include "triaged/core/event_loop.h"
#include "triaged/diagnose/failure.h"
#include "triaged/http/message_parser.h"
#include "triaged/net/connection.h"
#include "triaged/net/resolver.h"
#include "triaged/observe/failure_reporter.h"
#include "triaged/observe/metrics.h"
#include "triaged/proxy/endpoint_health.h"

namespace triaged::proxy {

class UpstreamCluster;
class EndpointProbe;

struct Endpoint {
  Endpoint();
  ~Endpoint();
  Endpoint(const Endpoint&) = delete;
  Endpoint& operator=(const Endpoint&) = delete;

  enum class DnsState : uint8_t { Literal, Pending, Resolved, Failed };

  config::HostPort configured;  // as written in the config
  std::string name;             // "127.0.0.1:8081" / "app.svc:8080", for logs
  DnsState dns_state = DnsState::Literal;
  std::vector<net::SocketAddress> addresses;
  size_t next_address = 0;
  std::string dns_error;  // last resolution error text
  net::Resolver::QueryPtr query;
  EndpointHealth health;
  uint32_t open_connections = 0;
  // The current run of failed connects, in wall-clock time for the endpoint_recovered story
  // ("refused from 10:01:02 to 10:01:10, then accepted: looks like a restart").
  std::chrono::system_clock::time_point failed_from{};
  std::chrono::system_clock::time_point failed_until{};
  int failure_err = 0;  // errno of the latest failed connect (0: a timeout)
  // Connects to it while it is marked down (EndpointHealth); made on the first down spell.
  std::unique_ptr<EndpointProbe> probe;
  // The shortest idle time after which the upstream was seen closing a pooled connection: one
  // it closed while pooled, or one that met the keep-alive race. 0: none seen. An observation
  // older than kLearnedIdleCloseMemory is replaced by the next (an app's setting may change).
  std::chrono::milliseconds learned_idle_close{0};
  MonotonicTime learned_at{};
  // The idle timeout its latest Keep-Alive response field gave (0: never said).
  std::chrono::milliseconds advertised_idle{0};
  std::vector<std::unique_ptr<class UpstreamConnection>> idle;  // most recently used last
  // TLS: the session the next connection resumes, and the certificate last seen (for the
  // expiry metric: published again only when it changes).
  net::TlsSessionSlot tls_session;
  net::X509Ptr tls_certificate;
};

// One TCP connection to an endpoint. While a session uses it, its events go to the session;
// while idle in the pool, it watches for the upstream closing it and for its idle timeout; while
// draining (its client went away after the request was sent), it reads the rest of the response
// and throws it away, so that the connection can go back to the pool instead of being closed.
class UpstreamConnection final : public net::ConnectionCallbacks, private http::ParserCallbacks {
 public:
  // Takes ownership of `fd`, a socket whose non-blocking connect() is under way.
  UpstreamConnection(UpstreamCluster& cluster, Endpoint& endpoint, int fd,
                     const net::SocketAddress& address, EventLoop& loop);
  ~UpstreamConnection() override;
  UpstreamConnection(const UpstreamConnection&) = delete;
  UpstreamConnection& operator=(const UpstreamConnection&) = delete;

  net::Connection& connection() { return connection_; }
  // Parses the responses on this connection, one session after another (its head arena keeps
  // its capacity from one response to the next).
  http::MessageParser& responseParser() { return response_parser_; }
  Endpoint& endpoint() { return endpoint_; }
  const Endpoint& endpoint() const { return endpoint_; }
  const net::SocketAddress& address() const { return address_; }
  // Gives the connection's events to `owner` (a session), or takes them back (nullptr).
  void setOwner(net::ConnectionCallbacks* owner);
  // Takes the connection's events back to read and discard the rest of the current response:
  // at most `max_body` more body bytes (and the head, if it has not come), until `deadline`.
  // The cluster is told the outcome (finishDrain).
  void startDrain(uint64_t max_body, MonotonicTime deadline);

  uint32_t requests_served = 0;  // completed exchanges before the current one
  MonotonicTime idle_since{};    // when it last went back to the pool
  // What the upstream's last response said about this connection (Keep-Alive: timeout=N,
  // max=N): its idle timeout (0: not said) and how many more requests it takes (-1: not said).
  std::chrono::milliseconds advertised_idle{0};
  int64_t remaining_requests = -1;
  bool connected = false;
  bool idle = false;  // in the pool (counted as idle, not active)

  // ConnectionCallbacks (used only while idle in the pool)
  void onReadable() override;
  void onWriteDrained() override;
  void onEvent(short what, int err) override;

 private:
  // Closes the connection once it has been idle for keepalive_idle_timeout since it last went
  // back to the pool; fires early (and arms again) when it was used in between.
  void onIdleTimer();
  // Feeds what was read to the response parser while draining; may end the drain.
  void drainInput();
  void endDrain(observe::DrainResult result);
  // The final response head is complete (read by the drain, or by the session before it): sets
  // drain_verdict_ when the response cannot end with the connection reusable within the drain.
  void judgeHead();
  // http::ParserCallbacks, while draining
  void onHead() override;
  void onBody(const char* data, size_t len) override;
  void onMessageComplete(const http::Headers& trailers) override;

  UpstreamCluster& cluster_;
  Endpoint& endpoint_;
  net::SocketAddress address_;
  net::Connection connection_;
  http::MessageParser response_parser_;
  net::ConnectionCallbacks* owner_ = nullptr;
  EventLoop& loop_;
  Timer idle_timer_;
  bool draining_ = false;
  // Pooled while the response can still end with the connection reusable; else why it cannot.
  observe::DrainResult drain_verdict_ = observe::DrainResult::Pooled;
  bool drain_interim_ = false;  // the head being drained is a 1xx: a final response follows
  uint64_t drain_body_left_ = 0;
};
using UpstreamConnectionPtr = std::unique_ptr<UpstreamConnection>;

// Something waiting for the cluster: a connection slot, or an endpoint name to resolve.
class ClusterWaiter {
 public:
  virtual ~ClusterWaiter() = default;
  // Call acquire() again.
  virtual void onClusterReady() = 0;
};

using UpstreamConfigPtr = std::shared_ptr<const config::UpstreamConfig>;

struct Acquired {
  enum class Kind : uint8_t {
    Reused,      // `connection` is an idle pooled connection, ready to use
    Connecting,  // `connection` is a new connection; CONNECTED or ERROR follows
    Waiting,     // queued: onClusterReady() will be called
    Failed,      // `cause` (+ `err`): connect failed at once, DNS failed, none healthy, overload
  };
  Kind kind = Kind::Failed;
  UpstreamConnectionPtr connection;
  Endpoint* endpoint = nullptr;
  diagnose::FailureCause cause = diagnose::FailureCause::None;
  int err = 0;
  std::string detail;  // e.g. the DNS error text
};

class UpstreamCluster {
 public:
  UpstreamCluster(EventLoop& loop, net::Resolver& resolver, UpstreamConfigPtr config,
                  uint32_t workers, std::chrono::milliseconds dns_refresh,
                  observe::UpstreamMetrics& metrics, const observe::FailureReporter& reporter);
  ~UpstreamCluster();
  UpstreamCluster(const UpstreamCluster&) = delete;
  UpstreamCluster& operator=(const UpstreamCluster&) = delete;

  const config::UpstreamConfig& config() const { return *config_; }
  // The settings in force now; a session keeps the ones it started with (a reload may replace
  // them, see updateConfig).
  const UpstreamConfigPtr& configPtr() const { return config_; }
  const std::string& name() const { return config_->name; }

  // A reload changed this upstream's settings but not its name and endpoints: new requests use
  // the new ones; pools, health, what was learned and counters stay.
  void updateConfig(UpstreamConfigPtr config);
  // A reload removed this upstream: idle and draining connections close now, those in use when
  // their requests end (release), and nothing is pooled or probed any more. The cluster itself
  // lives as long as a session holds it.
  void retire();
  bool retired() const { return retired_; }

  // The TLS context of an upstream with tls = true (shared by its connections), else null.
  const net::TlsClientContext* tls() const { return tls_.get(); }
  // The name sent as SNI and verified: tls_server_name, or the endpoint's host.
  const std::string& tlsServerName(const Endpoint& endpoint) const;
  // A TLS handshake with `connection`'s endpoint finished, or failed on a certificate: counts it
  // and notes the certificate for triaged_tls_certificate_expiry_timestamp_seconds.
  void noteTlsHandshake(UpstreamConnection& connection, bool established);
  observe::UpstreamMetrics& metrics() { return metrics_; }

  // Picks an endpoint and gets a connection to it. Healthy endpoints first, round robin, avoiding
  // `avoid` (the endpoint a retry moves away from) when another is healthy; when none is
  // healthy, the marked-down ones, least recently failed first: they are tried anyway, so the
  // client learns the true cause and a restarted app gets traffic at once. `fresh_only` skips
  // the idle pool (retries). `replayable`: the request may be sent again if the connection dies
  // under it; one that may not is kept away from pooled connections that could be closing
  // (config `reuse`).
  // `had_turn`: the caller was woken from the queue (or is retrying): it does not queue behind
  // the others, and if it must wait again, it waits first in line.
  Acquired acquire(ClusterWaiter& waiter, const Endpoint* avoid, bool fresh_only,
                   bool replayable = true, bool had_turn = false);
  // Removes `waiter` from the queue (it gave up or was answered otherwise).
  void cancelWait(ClusterWaiter& waiter);

  // A session is done with `connection`; `reusable` keeps it for the next request.
  void release(UpstreamConnectionPtr connection, bool reusable);
  // A session whose client went away hands over `connection` with its request sent and the
  // response still to come: it is drained (UpstreamConnection::startDrain) and then pooled, or
  // closed. Reconnecting costs the upstream an accept and a handshake per aborted request, and a
  // burst of aborts (a client pool timing out at once) a burst of reconnects.
  void drain(UpstreamConnectionPtr connection);
  // The drain of `connection` ended: pools it if `result` is Pooled (and the pool has room),
  // closes it otherwise, and counts how it ended in triaged_upstream_drains_total.
  void finishDrain(UpstreamConnection& connection, observe::DrainResult result);
  static constexpr uint64_t kDrainMaxBody = 256 * 1024;
  static constexpr std::chrono::milliseconds kDrainWindow{2000};
  // Passive health input from the session that owns a connect attempt, or from the endpoint's
  // probe. `err` is the connect errno on failure (0 for a timeout).
  void reportConnect(Endpoint& endpoint, bool success, int err);

  // The keep-alive race met `endpoint` on a connection idle for `idle`: the upstream closes idle
  // connections at or before that. Learned, so that the next one is retired in time.
  void learnFromRace(Endpoint& endpoint, std::chrono::milliseconds idle);
  // A response on `endpoint` said Keep-Alive: timeout=N.
  void noteAdvertisedIdle(Endpoint& endpoint, std::chrono::milliseconds timeout);
  // "about 4.9 s (learned from ...)", "5 s (its Keep-Alive: timeout)", or unknown: for hints.
  std::string idleCloseText(const Endpoint& endpoint) const;
  // An idle pooled connection was closed by the upstream (FIN, RST or unsolicited bytes).
  void onIdleClosedByUpstream(UpstreamConnection& connection);
  // The upstream's idle limit for `connection` as far as triaged knows it: the smaller of its
  // Keep-Alive timeout and what was learned for its endpoint; nullopt when neither is known.
  std::optional<std::chrono::milliseconds> knownIdleLimit(
      const UpstreamConnection& connection) const;
  static constexpr std::chrono::minutes kLearnedIdleCloseMemory{10};
  // Closes of connections idle less than this teach nothing about an idle timeout.
  static constexpr std::chrono::milliseconds kMinIdleCloseToLearn{500};
  // A request that may not be replayed reuses a pooled connection idle at most this long when
  // the upstream's idle limit is not known.
  static constexpr std::chrono::milliseconds kJustUsed{1000};
  // Check with a peek that a pooled connection idle this long was not closed by the upstream
  // in the moment before it is used (shorter idles skip the syscall: the hot path).
  static constexpr std::chrono::milliseconds kPeekAfter{50};

  // Closes every idle connection, and those draining a response (graceful shutdown).
  void closeIdle();

  // Called by UpstreamConnection.
  void onConnectionOpened(Endpoint& endpoint);
  void onConnectionClosed(Endpoint& endpoint, bool was_idle);
  void closeIdleConnection(UpstreamConnection& connection);

  uint32_t openConnections() const { return open_; }
  // This worker's share of max_connections (the configured limit split over the workers).
  uint32_t maxConnections() const { return max_connections_; }
  uint32_t idleConnections() const;
  const std::vector<std::unique_ptr<Endpoint>>& endpoints() const { return endpoints_; }

 private:
  // Healthy first (round robin, not `avoid` while another is healthy), then down ones least
  // recently failed first. Notes DNS states that kept an endpoint out.
  Endpoint* pickEndpoint(const Endpoint* avoid, bool& dns_pending, Endpoint*& dns_failed);
  void resolve(Endpoint& endpoint);
  void onResolved(Endpoint& endpoint, const net::Resolution& result);
  void wakeWaiters(bool all);
  UpstreamConnection* oldestIdleElsewhere(const Endpoint* except);
  // Takes a pooled connection of `endpoint` that is safe to use for this request, retiring the
  // ones that are not (counted as races avoided); nullptr when none is (then: a new one).
  UpstreamConnectionPtr takeIdle(Endpoint& endpoint, bool replayable);
  void learnIdleClose(Endpoint& endpoint, std::chrono::milliseconds idle);
  void publishIdleClose();
  // max_idle_connections allows one more idle connection to `endpoint`.
  bool poolHasRoom(const Endpoint& endpoint) const;

  EventLoop& loop_;
  net::Resolver& resolver_;
  observe::UpstreamMetrics& metrics_;
  std::shared_ptr<const net::TlsClientContext> tls_;
  const observe::FailureReporter& reporter_;
  UpstreamConfigPtr config_;
  uint32_t workers_;
  bool retired_ = false;
  uint32_t max_connections_;
  uint32_t max_pending_;
  std::chrono::milliseconds dns_refresh_;
  std::vector<std::unique_ptr<Endpoint>> endpoints_;
  std::vector<UpstreamConnectionPtr> draining_;
  size_t next_endpoint_ = 0;
  uint32_t open_ = 0;
  std::deque<ClusterWaiter*> waiters_;
  bool wake_all_ = false;
  Timer wake_timer_;
  Timer refresh_timer_;
};

}  // namespace triaged::proxy
