#include "triaged/proxy/proxy_session.h"

#include <sys/uio.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "triaged/diagnose/failure_table.h"
#include "triaged/http/trace_context.h"
#include "triaged/observe/loggers.h"
#include "triaged/proxy/client_connection.h"
#include "triaged/proxy/local_reply.h"
#include "triaged/proxy/router.h"

namespace triaged::proxy {
namespace {

using diagnose::FailureCause;
using diagnose::Phase;
using diagnose::TimeoutKind;
using std::chrono::milliseconds;

// Above this many bytes waiting in the peer's output buffer, stop reading from this side.
constexpr size_t kHighWatermark = 256 * 1024;
// Request body bytes kept to replay on a fresh connection after a stale keep-alive race.
constexpr size_t kReplayLimit = 64 * 1024;

EvBufferPtr newBuffer() {
  EvBufferPtr b(evbuffer_new());
  if (!b) abort();
  return b;
}

bool requestHasBody(const http::RequestHead& r) {
  return r.framing == http::BodyFraming::Chunked ||
         (r.framing == http::BodyFraming::ContentLength && r.content_length > 0);
}

// May this request be sent twice? RFC 9110 9.2.2's idempotent methods, or a request the client
// marked as safe to repeat with an idempotency key (draft-ietf-httpapi-idempotency-key-header).
bool requestIdempotent(const http::RequestHead& r) {
  return diagnose::isIdempotentMethod(r.method) ||
         http::findHeader(r.headers, "idempotency-key") != nullptr ||
         http::findHeader(r.headers, "x-idempotency-key") != nullptr;
}

// Heads are built here and copied into a connection's output at once; one buffer per worker
// thread keeps its capacity, so building a head allocates nothing.
std::string& headScratch() {
  thread_local std::string buffer;
  return buffer;
}

#if defined(__SANITIZE_ADDRESS__)
constexpr bool kRecycleSessions = false;
#else
constexpr bool kRecycleSessions = true;
#endif

// Freed sessions' memory on this thread; at most kMaxFreeSessions, the rest goes to the allocator.
constexpr size_t kMaxFreeSessions = 256;
struct SessionFreeList {
  SessionFreeList() { blocks.reserve(kMaxFreeSessions); }
  std::vector<void*> blocks;
  ~SessionFreeList() {
    for (void* b : blocks) ::operator delete(b);
  }
};
SessionFreeList& sessionFreeList() {
  thread_local SessionFreeList list;
  return list;
}

}  // namespace

ProxySession::ProxySession(ClientConnection& client, const http::RequestHead& request,
                           const RequestId& request_id)
    : client_(client),
      loop_(client.worker().loop()),
      request_(request),
      request_id_(request_id),
      start_(loop_.now()),
      classifier_(start_, requestIdempotent(request), requestHasBody(request)),
      has_body_(requestHasBody(request)),
      connect_timer_(loop_,
                     [this] {
                       // A handshake that times out follows a TCP connect that succeeded.
                       if (endpoint_ != nullptr && classifier_.phase() != Phase::TlsHandshake) {
                         cluster_->reportConnect(*endpoint_, false, 0);
                       }
                       classifier_.onTimeout(TimeoutKind::Connect);
                       attemptFailed();
                     }),
      request_timer_(loop_,
                     [this] {
                       classifier_.onTimeout(TimeoutKind::Request);
                       if (response_started_) {
                         abortResponse();
                       } else {
                         failRequest();
                       }
                     }),
      pending_timer_(loop_,
                     [this] {
                       classifier_.onTimeout(
                           TimeoutKind::Pending,
                           fmt::format("waited pending_timeout {} and none of this worker's {} "
                                       "connections came free",
                                       observe::formatDuration(upstream_config_->pending_timeout),
                                       cluster_->maxConnections()));
                       failRequest();
                     }),
      tunnel_timer_(loop_, [this] {
        const auto limit = upstream_config_->body_idle_timeout;
        const auto idle = std::chrono::duration_cast<milliseconds>(loop_.now() - tunnel_activity_);
        if (idle >= limit) {
          finish(true);
        } else {
          tunnel_timer_.arm(limit - idle);
        }
      }) {}

void* ProxySession::operator new(size_t size) {
  auto& free_list = sessionFreeList().blocks;
  if (kRecycleSessions && size == sizeof(ProxySession) && !free_list.empty()) {
    void* p = free_list.back();
    free_list.pop_back();
    return p;
  }
  return ::operator new(size);
}

void ProxySession::operator delete(void* p, size_t size) noexcept {
  auto& free_list = sessionFreeList().blocks;
  if (kRecycleSessions && size == sizeof(ProxySession) && free_list.size() < kMaxFreeSessions) {
    free_list.push_back(p);  // within the reserved capacity: no allocation (or throw) here
    return;
  }
  ::operator delete(p);
}

ProxySession::~ProxySession() {
  // Cancelled without an answer (its client sent something invalid, or went away first).
  if (!counted_ && metrics_ != nullptr) metrics_->in_flight.add(-1);
  if (waiting_ && cluster_ != nullptr) cluster_->cancelWait(*this);
  releaseUpstream(false);
}

double ProxySession::msSince(MonotonicTime t) const {
  return std::chrono::duration<double, std::milli>(loop_.now() - t).count();
}

// --- route and connect ----------------------------------------------------------------------

void ProxySession::start() {
  // W3C trace context: the client's traceparent goes on unchanged and names this request's
  // trace in failure lines; without one, triaged starts a trace when configured to.
  if (const auto tp = http::requestTraceParent(request_.headers)) {
    trace_id_ = tp->trace_id;
  } else if (client_.worker().config().server.trace_context == "start") {
    started_traceparent_ = http::newTraceParent();
    trace_id_ = std::string_view(started_traceparent_).substr(3, 32);
  }
  // The parser's authority and origin-form: an absolute-form target's authority wins over Host.
  const config::RouteConfig* route =
      client_.worker().router().match(request_.authority, request_.path);
  if (route == nullptr) {
    classifier_.onAcquireFailed(FailureCause::NoRoute, "no [[route]] matches this host and path");
    failRequest();
    return;
  }
  cluster_ = client_.worker().cluster(route->upstream);
  // The upstream's settings as they are now: a reload during this request does not change them.
  upstream_settings_ = cluster_->configPtr();
  upstream_config_ = upstream_settings_.get();
  metrics_ = &cluster_->metrics();
  metrics_->in_flight.add(1);
  // Only a request that a retry could send again keeps a copy of its body (PRODUCT.md, safe
  // retry): an idempotent one, with a retry left.
  replay_wanted_ = has_body_ && upstream_config_->retries > 0 && requestIdempotent(request_);
  classifier_.onRouted();
  if (upstream_config_->request_timeout.count() > 0) {
    request_timer_.arm(upstream_config_->request_timeout);
  }
  acquire();
}

void ProxySession::acquire() {
  const bool retry = attempts_ > 0;
  Acquired a = cluster_->acquire(*this, retry ? endpoint_ : nullptr, /*fresh_only=*/retry,
                                 replayableRequest(), /*had_turn=*/woken_ || retry);
  woken_ = false;
  if (a.kind != Acquired::Kind::Waiting) pending_timer_.disarm();
  switch (a.kind) {
    case Acquired::Kind::Waiting:
      waiting_ = true;
      if (!pending_timer_.armed()) pending_timer_.arm(upstream_config_->pending_timeout);
      return;
    case Acquired::Kind::Failed:
      // None when no endpoint was chosen (none healthy, local overload): not the one a retry
      // moved away from.
      endpoint_ = a.endpoint;
      if (a.cause == FailureCause::ConnectRefused || a.cause == FailureCause::ConnectError) {
        // connect() failed at once: an attempt that ended before it began.
        ++attempts_;
        reused_ = false;
        classifier_.onAttemptStart(endpoint_->name, false, 0, -1, loop_.now());
        classifier_.onConnectFailed(a.err, loop_.now());
        attemptFailed();
      } else {
        classifier_.onAcquireFailed(a.cause, a.detail);
        failRequest();
      }
      return;
    case Acquired::Kind::Reused: {
      ++attempts_;
      upstream_ = std::move(a.connection);
      endpoint_ = a.endpoint;
      reused_ = true;
      const auto idle = std::chrono::duration_cast<milliseconds>(start_ - upstream_->idle_since);
      classifier_.onAttemptStart(endpoint_->name, true, upstream_->requests_served,
                                 static_cast<int64_t>(std::max<int64_t>(0, idle.count())),
                                 loop_.now());
      upstream_->setOwner(this);
      sendRequestHead();
      return;
    }
    case Acquired::Kind::Connecting:
      ++attempts_;
      upstream_ = std::move(a.connection);
      endpoint_ = a.endpoint;
      reused_ = false;
      classifier_.onAttemptStart(endpoint_->name, false, 0, -1, loop_.now());
      upstream_->setOwner(this);
      connect_timer_.arm(upstream_config_->connect_timeout);
      return;
  }
}

bool ProxySession::replayableRequest() const {
  // What a retry could send again if a pooled connection died under it: an idempotent request
  // whose body (if any) fits the replay copy. A chunked body of unknown length is hoped to fit;
  // if it does not, the copy is dropped and the request is simply not retried.
  if (!requestIdempotent(request_)) return false;
  return !has_body_ || request_.framing == http::BodyFraming::Chunked ||
         request_.content_length <= kReplayLimit;
}

void ProxySession::onClusterReady() {
  waiting_ = false;
  if (done_) return;
  woken_ = true;
  acquire();
}

void ProxySession::onConnected() {
  const bool tls = upstream_->connection().tls() != nullptr;
  classifier_.onConnected(loop_.now(), tls);
  if (classifier_.evidence().connect_ms) {
    metrics_->connect_duration.observe(*classifier_.evidence().connect_ms / 1000.0);
  }
  cluster_->reportConnect(*endpoint_, true, 0);
  // TLS: connect_timeout runs on through the handshake, whose end is an event of its own; what
  // runs out then is the handshake (tls_handshake_timeout), not the TCP connect.
  if (tls) return;
  connect_timer_.disarm();
  sendRequestHead();
}

void ProxySession::onTlsEstablished() {
  connect_timer_.disarm();
  classifier_.onTlsEstablished();
  cluster_->noteTlsHandshake(*upstream_, true);
  sendRequestHead();
}

void ProxySession::onTlsFailed() {
  connect_timer_.disarm();
  cluster_->noteTlsHandshake(*upstream_, false);
  classifier_.onTlsHandshakeFailed(upstream_->connection().tls()->failure());
  attemptFailed();
}

void ProxySession::sendRequestHead() {
  upstream_->connected = true;
  request_sent_ = false;
  auto& conn = upstream_->connection();
  conn.setTimeouts(milliseconds(0), milliseconds(0));
  conn.enableRead();

  // The connection's parser: a pooled connection's holds the previous, complete response.
  response_parser_ = &upstream_->responseParser();
  if (response_parser_->awaitingResume()) response_parser_->resume();
  response_parser_->setCallbacks(this);
  response_parser_->setExpectNoBody(request_.isHead());

  http::ForwardContext ctx{client_.clientIp(), request_id_, endpoint_->name, started_traceparent_};
  std::string& head = headScratch();
  http::buildUpstreamRequestHead(head, request_, ctx);
  conn.write(head);
  classifier_.onRequestBytesSent(head.size());

  // Body bytes that arrived before the connection was ready.
  const size_t staged = staged_ ? evbuffer_get_length(staged_.get()) : 0;
  if (staged > 0) {
    if (replay_wanted_ && replayable_) {
      if (!replay_) replay_ = newBuffer();
      if (evbuffer_get_length(replay_.get()) + staged <= kReplayLimit) {
        const auto* bytes = evbuffer_pullup(staged_.get(), -1);
        evbuffer_add(replay_.get(), bytes, staged);
      } else {
        replayable_ = false;
      }
    }
    classifier_.onRequestBytesSent(staged);
    conn.writeBuffer(staged_.get());
  }
  maybeArmHeaderTimer();
  if (body_paused_ && conn.outputLength() <= kHighWatermark) {
    body_paused_ = false;
    client_.resumeRequestBody();
  }
}

void ProxySession::maybeArmHeaderTimer() {
  if (!request_complete_ || !upstream_ || !upstream_->connected || request_sent_) return;
  request_sent_ = true;
  classifier_.onRequestSent(loop_.now());
  if (!response_started_) {
    upstream_->connection().setDeadline(loop_.now() + upstream_config_->response_header_timeout);
  }
}

// --- request body ---------------------------------------------------------------------------

void ProxySession::writeRequestWire(const char* data, size_t len) {
  if (done_ || len == 0) return;
  const bool live = upstream_ && upstream_->connected;
  if (live) {
    auto& conn = upstream_->connection();
    // Body bytes lie in the client connection's input: forwardInput may pass its block on
    // instead of copying it (chunk framing, written from elsewhere, is copied).
    client_.connection().forwardInput(data, len, conn);
    classifier_.onRequestBytesSent(len);
    if (replay_wanted_ && replayable_) {
      if (!replay_) replay_ = newBuffer();
      if (evbuffer_get_length(replay_.get()) + len <= kReplayLimit) {
        evbuffer_add(replay_.get(), data, len);
      } else {
        replayable_ = false;
        replay_.reset();
      }
    }
    if (!body_paused_ && conn.outputLength() > kHighWatermark) {
      body_paused_ = true;
      client_.pauseRequestBody();
    }
  } else {
    if (!staged_) staged_ = newBuffer();
    evbuffer_add(staged_.get(), data, len);
    if (!body_paused_ && evbuffer_get_length(staged_.get()) > kHighWatermark) {
      body_paused_ = true;
      client_.pauseRequestBody();
    }
  }
}

void ProxySession::onRequestBody(const char* data, size_t len) {
  if (done_) return;
  if (request_.framing == http::BodyFraming::Chunked) {
    std::string header;
    http::appendChunkHeader(header, len);
    writeRequestWire(header.data(), header.size());
    writeRequestWire(data, len);
    writeRequestWire("\r\n", 2);
  } else {
    writeRequestWire(data, len);
  }
}

void ProxySession::onRequestComplete(const http::Headers& trailers) {
  if (done_) return;
  if (request_.framing == http::BodyFraming::Chunked) {
    const std::string last = http::lastChunk(trailers);
    writeRequestWire(last.data(), last.size());
  }
  request_complete_ = true;
  maybeArmHeaderTimer();
}

// --- upstream connection events -------------------------------------------------------------

void ProxySession::onWriteDrained() {
  if (done_ || !upstream_) return;
  if (upstream_->connection().outputLength() > 0) return;  // a late deferred callback
  if (tunnel_) {
    client_.connection().enableRead();
    return;
  }
  if (body_paused_) {
    body_paused_ = false;
    client_.resumeRequestBody();
  }
}

void ProxySession::onReadable() {
  if (done_ || !upstream_) return;
  auto& conn = upstream_->connection();
  if (tunnel_) {
    pumpTunnel(conn, client_.connection());
    return;
  }
  while (!done_ && !upstream_read_paused_) {
    const std::string_view in = conn.inputData();
    if (in.empty()) break;
    // A TLS server's record where HTTP was due tells a protocol mismatch from garbage.
    if (classifier_.evidence().response_bytes_received == 0 && conn.tls() == nullptr) {
      classifier_.onResponseStart(in.substr(0, 8));
    }
    const auto r = response_parser_->feed(in.data(), in.size());
    if (done_ || !upstream_) return;  // the connection (and `in`) may be gone
    conn.consumeInput(r.consumed);
    classifier_.onResponseBytes(r.consumed);
    using S = http::MessageParser::Status;
    switch (r.status) {
      case S::NeedMore:
        break;
      case S::MessageComplete:
        if (interim_) {
          interim_ = false;
          response_parser_->resume();
          break;
        }
        completeResponse();
        return;
      case S::Upgrade:
        startTunnel();
        return;
      case S::Error: {
        const auto& e = response_parser_->error();
        classifier_.onMalformedResponse(e.code + ": " + e.reason);
        if (response_started_) {
          abortResponse();
        } else {
          failRequest();
        }
        return;
      }
    }
    if (client_.connection().outputLength() > kHighWatermark) {
      // The client reads slower than the upstream sends: stop reading the upstream until the
      // client's buffer drains (onClientDrained).
      upstream_read_paused_ = true;
      conn.disableRead();
    }
  }
}

void ProxySession::onEvent(short what, int err) {
  if (done_ || !upstream_) return;
  if ((what & net::kEventConnected) != 0) {
    onConnected();
    return;
  }
  if ((what & net::kEventTlsEstablished) != 0) {
    onTlsEstablished();
    return;
  }
  if ((what & net::kEventTls) != 0) {
    onTlsFailed();
    return;
  }
  if (tunnel_) {
    pumpTunnel(upstream_->connection(), client_.connection());
    finish(true);
    return;
  }
  if (!upstream_->connected) {
    connect_timer_.disarm();
    cluster_->reportConnect(*endpoint_, false, err);
    classifier_.onConnectFailed(err, loop_.now());
    attemptFailed();
    return;
  }
  if ((what & net::kEventTimeout) != 0) {
    if ((what & net::kEventDeadline) != 0) {
      classifier_.onTimeout(TimeoutKind::ResponseHeader);
      failRequest();
    } else {
      classifier_.onTimeout(TimeoutKind::BodyIdle);
      abortResponse();
    }
    return;
  }
  if ((what & net::kEventEof) != 0) {
    onUpstreamClosed(false, 0);
    return;
  }
  // TLS 1.3 finishes the client's side of the handshake before the server has checked the
  // client's certificate: its alert (certificate required, unknown CA) comes with the first read.
  // Before any response byte on a fresh connection it is the handshake's failure, not a crash.
  const net::TlsSession* tls = upstream_->connection().tls();
  if (tls != nullptr && tls->failed() && !reused_ &&
      classifier_.evidence().response_bytes_received == 0) {
    diagnose::TlsFailure failure = tls->failure();
    if (failure.kind == diagnose::TlsFailureKind::PeerAlert) {
      classifier_.onTlsHandshakeFailed(std::move(failure));
      attemptFailed();
      return;
    }
  }
  onUpstreamClosed(err == ECONNRESET, err);
}

void ProxySession::onUpstreamClosed(bool reset, int err) {
  // Parse what is still buffered first: a response may be complete in the input already.
  if (upstream_->connection().inputLength() > 0 && !upstream_read_paused_) {
    onReadable();
    if (done_) return;
  }
  if (!reset && response_parser_ &&
      response_parser_->finish() == http::MessageParser::Status::MessageComplete) {
    completeResponse();  // a close-delimited body ended normally
    return;
  }
  classifier_.onUpstreamClosed(reset, err);
  if (response_started_) {
    abortResponse();
  } else {
    attemptFailed();
  }
}

// --- response -------------------------------------------------------------------------------

void ProxySession::onHead() {
  const http::ResponseHead& resp = response_parser_->response();
  if (resp.isInterim()) {
    interim_ = true;
    // HTTP/1.0 clients do not understand interim responses (RFC 9110 15.2). The others get
    // each one with its fields: 103 Early Hints exists for its Link fields.
    if (request_.version_minor >= 1 && (resp.status != 100 || request_.expect_continue)) {
      std::string& head = headScratch();
      http::buildInterimResponseHead(head, resp);
      client_.connection().write(head);
    }
    return;
  }
  upstream_->connection().clearDeadline();
  // A 101 to a request that asked for no upgrade is no response at all: startTunnel answers
  // 502 malformed_response once the parser returns. It must not count as a head that went out
  // (the classifier would then call what follows a truncation of a 101).
  if (resp.status == 101 && !request_.upgrade) return;
  classifier_.onResponseHead(resp.status, resp.headers, loop_.now());
  if (classifier_.evidence().header_ms) {
    metrics_->header_duration.observe(*classifier_.evidence().header_ms / 1000.0);
  }
  response_status_ = resp.status;
  if (resp.status == 101) return;  // written by startTunnel once the upgrade is confirmed
  sniff_body_ = resp.status == 502 || resp.status == 504;
  plan_ = http::planResponse(request_, resp, client_.worker().draining() || !request_complete_);
  if (resp.status >= 500) {
    // A passed-on 5xx: this hop's Proxy-Status member goes after the upstream's own.
    passed_on_status_ =
        proxyStatusForPassedOn(resp.status, diagnose::causeForUpstreamStatus(resp.status));
    plan_.proxy_status = passed_on_status_;
  }
  std::string& head = headScratch();
  http::buildClientResponseHead(head, resp, plan_, request_id_);
  client_.connection().write(head);
  // Body bytes are on their way: let the head wait in the kernel for them (MSG_MORE), so both
  // leave in one segment. Only when they really are: an empty body would leave the head held
  // until the kernel's cork timer (200 ms). Cleared by the first body bytes and wherever the
  // response ends.
  client_.connection().setMoreExpected(http::bodyFollows(resp, plan_));
  response_started_ = true;
  upstream_->connection().setTimeouts(upstream_config_->body_idle_timeout, milliseconds(0));
}

void ProxySession::onBody(const char* data, size_t len) {
  if (interim_) return;
  response_body_bytes_ += len;
  if (sniff_body_) classifier_.onResponseBodyPrefix(std::string_view(data, len));
  auto& out = client_.connection();
  out.setMoreExpected(false);
  // The body span lies in the upstream connection's input: forwardInput may pass its block on
  // instead of copying it.
  auto& in = upstream_->connection();
  if (plan_.framing == http::BodyFraming::Chunked) {
    std::string header;
    http::appendChunkHeader(header, len);
    out.write(header);
    in.forwardInput(data, len, out);
    out.write("\r\n", 2);
  } else if (plan_.framing != http::BodyFraming::None) {
    in.forwardInput(data, len, out);
  }
}

void ProxySession::onMessageComplete(const http::Headers& trailers) {
  if (interim_) return;
  client_.connection().setMoreExpected(false);
  if (plan_.framing == http::BodyFraming::Chunked) {
    client_.connection().write(http::lastChunk(trailers));
  }
}

void ProxySession::completeResponse() {
  classifier_.onResponseComplete();
  const auto& resp = response_parser_->response();
  bool reusable = resp.keep_alive && request_complete_ && !body_paused_ &&
                  resp.framing != http::BodyFraming::UntilClose &&
                  upstream_->connection().inputLength() == 0 &&
                  upstream_->connection().outputLength() == 0;
  if (reusable) {
    // What the upstream says of this connection's future bounds its reuse (Keep-Alive:
    // timeout=N, max=N): it is retired before the upstream closes it, not raced.
    const http::KeepAliveParams ka = http::parseKeepAlive(resp.headers);
    if (ka.timeout_seconds) {
      upstream_->advertised_idle = std::chrono::seconds(*ka.timeout_seconds);
      cluster_->noteAdvertisedIdle(*endpoint_, upstream_->advertised_idle);
    }
    if (ka.max_requests) upstream_->remaining_requests = *ka.max_requests;
    if (upstream_->remaining_requests == 0) reusable = false;
  }
  if (classifier_.verdict().cause != FailureCause::None) report();
  countRequest(resp.status);
  logAccess(resp.status);
  releaseUpstream(reusable);
  finish(plan_.close_after);
}

void ProxySession::onClientDrained() {
  if (done_ || !upstream_) return;
  if (tunnel_) {
    upstream_->connection().enableRead();
    return;
  }
  if (upstream_read_paused_) {
    upstream_read_paused_ = false;
    upstream_->connection().enableRead();
    onReadable();  // bytes may be waiting in the input buffer already
  }
}

// --- failures and retries -------------------------------------------------------------------

void ProxySession::attemptFailed() {
  connect_timer_.disarm();
  const uint32_t max_attempts = 1 + upstream_config_->retries;
  const FailureCause cause = classifier_.attemptCause();
  const bool retry =
      !response_started_ && !tunnel_ && classifier_.retryable(attempts_, max_attempts, replayable_);
  if (cause == FailureCause::StaleKeepalive && endpoint_ != nullptr) {
    // The upstream closed a connection idle this long: learned, so the next is retired first.
    const auto idle = classifier_.evidence().idle_ms;
    if (idle > 0) cluster_->learnFromRace(*endpoint_, milliseconds(idle));
    metrics_
        ->keepalive_races[static_cast<size_t>(retry ? observe::RaceOutcome::Absorbed
                                                    : observe::RaceOutcome::Surfaced)]
        .add();
  }
  if (retry) {
    logRetry();
    classifier_.beginRetry();
    releaseUpstream(false);
    if (replay_ && evbuffer_get_length(replay_.get()) > 0) {
      if (!staged_) staged_ = newBuffer();
      evbuffer_prepend_buffer(staged_.get(), replay_.get());
    }
    replay_.reset();
    acquire();
    return;
  }
  const auto refusal = classifier_.retryRefusal(attempts_, max_attempts, replayable_);
  if (refusal != diagnose::RetryRefusal::None) {
    metrics_->retries_refused[static_cast<size_t>(cause)][static_cast<size_t>(refusal)].add();
    retry_decision_ = diagnose::retryRefusalText(refusal, max_attempts);
  }
  failRequest();
}

void ProxySession::failRequest() {
  if (done_) return;
  if (waiting_) {
    cluster_->cancelWait(*this);
    waiting_ = false;
  }
  if (response_started_) {
    abortResponse();
    return;
  }
  const auto verdict = classifier_.verdict();
  report();
  countRequest(verdict.status);
  logAccess(verdict.status);
  releaseUpstream(false);
  // The client asked to close (HTTP/1.0 without keep-alive, Connection: close), or the stream
  // cannot go on: the answer says so and the connection ends after it (RFC 9112 9.3, 9.6).
  const bool close_after =
      !request_complete_ || request_.upgrade || !request_.keep_alive || client_.worker().draining();
  LocalReply reply;
  reply.status = verdict.status;
  reply.cause = verdict.cause;
  reply.request_id = request_id_.view();
  reply.close = close_after;
  reply.announce_keep_alive = request_.version_minor == 0;
  reply.expose_details = client_.worker().config().log.expose_details;
  if (endpoint_ != nullptr) reply.endpoint = endpoint_->name;
  reply.err = verdict.err;
  client_.connection().write(buildErrorResponse(reply));
  finish(close_after);
}

void ProxySession::abortResponse() {
  if (done_) return;
  client_.connection().setMoreExpected(false);
  report();
  countRequest(response_status_);
  logAccess(response_status_);
  releaseUpstream(false);
  done_ = true;
  stopTimers();
  client_.abortAfterFlush();
}

void ProxySession::onClientGone(int err) {
  if (done_) return;
  classifier_.onClientGone(err);
  report();
  countRequest(499);
  logAccess(499);
  if (upstreamDrainable()) {
    // The upstream is answering a request nobody waits for: read the answer to its end and keep
    // the connection, rather than close it and make the next request connect again. The drain
    // judges the response (and counts how it ended).
    cluster_->drain(detachUpstream());
  }
  cancel();
}

bool ProxySession::upstreamDrainable() const {
  // A request not wholly sent cannot be answered in full; a tunnel is no HTTP any more.
  return upstream_ && upstream_->connected && response_parser_ != nullptr && !tunnel_ &&
         !request_.upgrade && request_complete_ && request_sent_ && !body_paused_;
}

void ProxySession::countRequest(int status) {
  if (counted_) return;
  counted_ = true;
  // Requests that never reached an upstream (no route) are counted with an empty upstream. The
  // failure itself was counted by the reporter.
  observe::UpstreamMetrics& m = metrics_ != nullptr ? *metrics_ : client_.worker().metrics().none();
  m.countRequest(classifier_.verdict().origin, status);
  if (metrics_ != nullptr) {
    metrics_->request_duration.observe(msSince(start_) / 1000.0);
    metrics_->in_flight.add(-1);
  }
}

void ProxySession::cancel() {
  if (waiting_ && cluster_ != nullptr) cluster_->cancelWait(*this);
  waiting_ = false;
  releaseUpstream(false);
  done_ = true;
  stopTimers();
}

void ProxySession::stopTimers() {
  connect_timer_.disarm();
  request_timer_.disarm();
  pending_timer_.disarm();
  tunnel_timer_.disarm();
}

void ProxySession::finish(bool close_client) {
  done_ = true;
  stopTimers();
  if (tunnel_) releaseUpstream(false);
  // Last: the client may start the next request (and replace the head this session reads).
  client_.onSessionComplete(close_client);
}

UpstreamConnectionPtr ProxySession::detachUpstream() {
  if (response_parser_ != nullptr) {  // none before the request head went out
    response_parser_->setCallbacks(nullptr);
    response_parser_ = nullptr;
  }
  upstream_->connection().clearDeadline();
  return std::move(upstream_);
}

void ProxySession::releaseUpstream(bool reusable) {
  if (!upstream_) return;
  UpstreamConnectionPtr connection = detachUpstream();
  if (!reusable) connection->connection().close();
  cluster_->release(std::move(connection), reusable);
}

// --- tunnel (after 101 Switching Protocols) -------------------------------------------------

void ProxySession::startTunnel() {
  const auto& resp = response_parser_->response();
  if (!request_.upgrade || resp.status != 101) {
    classifier_.onMalformedResponse("101 Switching Protocols without an upgrade request");
    failRequest();
    return;
  }
  plan_ = http::planResponse(request_, resp, false);
  auto& client = client_.connection();
  auto& upstream = upstream_->connection();
  std::string& head = headScratch();
  http::buildClientResponseHead(head, resp, plan_, request_id_);
  client.write(head);
  response_started_ = true;
  tunnel_ = true;
  upstream.clearDeadline();
  request_timer_.disarm();
  logAccess(101);
  upstream.setTimeouts(milliseconds(0), milliseconds(0));
  client_.enterTunnel();
  tunnel_activity_ = loop_.now();
  tunnel_timer_.arm(upstream_config_->body_idle_timeout);
  pumpTunnel(upstream, client);
  pumpTunnel(client, upstream);
}

void ProxySession::pumpTunnel(net::Connection& from, net::Connection& to) {
  if (!from.open() || !to.open()) return;
  if (from.inputLength() == 0) return;
  tunnel_activity_ = loop_.now();
  from.moveInputTo(to);
  if (to.outputLength() > kHighWatermark) from.disableRead();
}

void ProxySession::onTunnelClientReadable() {
  if (done_ || !upstream_) return;
  pumpTunnel(client_.connection(), upstream_->connection());
}

void ProxySession::onTunnelClientEvent(short) {
  if (done_) return;
  if (upstream_) pumpTunnel(client_.connection(), upstream_->connection());
  finish(true);
}

// --- reporting ------------------------------------------------------------------------------

observe::FailureRecord ProxySession::failureRecord(const diagnose::Verdict& verdict) {
  const auto& ev = classifier_.evidence();
  observe::FailureRecord r;
  r.cause = verdict.cause;
  r.status = verdict.status;
  r.origin = verdict.origin;
  r.phase = verdict.phase;
  r.upstream = upstream_config_;
  r.endpoint = ev.endpoint.empty() && endpoint_ != nullptr ? std::string_view(endpoint_->name)
                                                           : std::string_view(ev.endpoint);
  r.request_id = request_id_.view();
  r.method = request_.method;
  r.path = request_.target;
  r.client = client_.clientIp();
  r.err = verdict.err;
  r.total_ms = msSince(start_);
  r.evidence = &ev;
  r.attempts = classifier_.attempts();
  r.absorbed = classifier_.absorbed();
  r.detail = ev.detail;
  if (endpoint_ != nullptr) r.dns_error = endpoint_->dns_error;
  r.retry = retry_decision_;
  r.trace_id = trace_id_;
  if (endpoint_ != nullptr && verdict.cause == FailureCause::StaleKeepalive) {
    idle_close_text_ = cluster_->idleCloseText(*endpoint_);
    r.upstream_idle_close = idle_close_text_;
  }
  return r;
}

void ProxySession::logRetry() {
  // The attempt's own verdict: what the client would have got had it not been retried.
  diagnose::Verdict attempt = classifier_.verdict();
  observe::FailureRecord r = failureRecord(attempt);
  r.kind = observe::FailureRecord::Kind::Retry;
  r.attempts = {};
  r.absorbed = diagnose::FailureCause::None;
  r.retry = has_body_ ? "replayed with its body on a fresh connection (the request is idempotent "
                        "or carries an Idempotency-Key)"
                      : "retried on a fresh connection";
  client_.worker().failures().report(r, *metrics_);
}

void ProxySession::report() {
  if (reported_) return;
  reported_ = true;
  const auto verdict = classifier_.verdict();
  if (verdict.cause == FailureCause::None) return;
  observe::UpstreamMetrics& m = metrics_ != nullptr ? *metrics_ : client_.worker().metrics().none();
  client_.worker().failures().report(failureRecord(verdict), m);
}

void ProxySession::logAccess(int status) {
  if (!client_.worker().config().log.access_log) return;
  observe::LogEvent ev("access");
  ev.add("status", status)
      .add("method", request_.method)
      .add("path", request_.target)
      .add("upstream", cluster_ != nullptr ? std::string_view(cluster_->name()) : "")
      .add("endpoint", endpoint_ != nullptr ? std::string_view(endpoint_->name) : "")
      .add("request_id", request_id_)
      .add("client", client_.clientIp())
      .add("total_ms", msSince(start_))
      .add("response_body_bytes", response_body_bytes_)
      .add("reused_connection", reused_)
      .add("retried", !classifier_.attempts().empty());
  observe::logger(observe::LoggerId::Conn).info(ev.str());
}

}  // namespace triaged::proxy
