#include "triaged/proxy/proxy_session.h"

#include <sys/uio.h>

#include <cerrno>

#include "triaged/diagnose/failure_table.h"
#include "triaged/observe/loggers.h"
#include "triaged/proxy/client_connection.h"
#include "triaged/proxy/router.h"

namespace triaged::proxy {
namespace {

using diagnose::FailureCause;
using diagnose::Phase;
using std::chrono::milliseconds;

// Above this many bytes waiting in the peer's output buffer, stop reading from this side.
constexpr size_t kHighWatermark = 256 * 1024;
// Request body bytes kept to replay on a fresh connection after a stale keep-alive race.
constexpr size_t kReplayLimit = 64 * 1024;

bool isIdempotent(std::string_view method) {
  return method == "GET" || method == "HEAD" || method == "OPTIONS" || method == "TRACE" ||
         method == "PUT" || method == "DELETE";
}

EvBufferPtr newBuffer() {
  EvBufferPtr b(evbuffer_new());
  if (!b) abort();
  return b;
}

// The cause a passed-through upstream 5xx is reported under.
FailureCause upstreamStatusCause(int status) {
  if (status == 503) return FailureCause::UpstreamUnavailable;
  if (status == 502 || status == 504) return FailureCause::UpstreamGatewayError;
  if (status >= 500) return FailureCause::UpstreamAppError;
  return FailureCause::None;
}

}  // namespace

ProxySession::ProxySession(ClientConnection& client, const http::RequestHead& request,
                           std::string request_id)
    : client_(client),
      loop_(client.worker().loop()),
      request_(request),
      request_id_(std::move(request_id)),
      staged_(newBuffer()),
      start_(loop_.now()),
      connect_timer_(loop_,
                     [this] {
                       if (endpoint_ != nullptr) cluster_->reportConnect(*endpoint_, false);
                       attemptFailed(FailureCause::ConnectTimeout, ETIMEDOUT);
                     }),
      header_timer_(loop_, [this] { failRequest(FailureCause::ResponseHeaderTimeout, 0, ""); }),
      request_timer_(loop_,
                     [this] {
                       if (response_started_) {
                         abortResponse(FailureCause::RequestTimeout, 0);
                       } else {
                         failRequest(FailureCause::RequestTimeout, 0, "");
                       }
                     }),
      pending_timer_(loop_,
                     [this] {
                       if (waiting_) cluster_->cancelWait(*this);
                       waiting_ = false;
                       failRequest(FailureCause::LocalOverload, 0,
                                   "no upstream connection became free within pending_timeout");
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

ProxySession::~ProxySession() {
  if (waiting_ && cluster_ != nullptr) cluster_->cancelWait(*this);
  releaseUpstream(false);
}

double ProxySession::msSince(MonotonicTime t) const {
  return std::chrono::duration<double, std::milli>(loop_.now() - t).count();
}

// --- route and connect ----------------------------------------------------------------------

void ProxySession::start() {
  phase_ = Phase::Route;
  const http::Header* host = http::findHeader(request_.headers, "host");
  const config::RouteConfig* route =
      client_.worker().router().match(host != nullptr ? host->value : "", request_.target);
  if (route == nullptr) {
    failRequest(FailureCause::NoRoute, 0, "no [[route]] matches this host and path");
    return;
  }
  cluster_ = client_.worker().cluster(route->upstream);
  upstream_config_ = &cluster_->config();
  if (upstream_config_->request_timeout.count() > 0) {
    request_timer_.arm(upstream_config_->request_timeout);
  }
  acquire();
}

void ProxySession::acquire() {
  phase_ = Phase::ConnectUpstream;
  const bool retry = attempts_ > 0;
  Acquired a = cluster_->acquire(*this, retry ? endpoint_ : nullptr, /*fresh_only=*/retry);
  switch (a.kind) {
    case Acquired::Kind::Waiting:
      waiting_ = true;
      if (!pending_timer_.armed()) pending_timer_.arm(upstream_config_->pending_timeout);
      return;
    case Acquired::Kind::Failed:
      pending_timer_.disarm();
      if (a.endpoint != nullptr) endpoint_ = a.endpoint;
      if (a.cause == FailureCause::ConnectRefused || a.cause == FailureCause::ConnectError) {
        ++attempts_;
        connect_start_ = loop_.now();
        attemptFailed(a.cause, a.err);
      } else {
        failRequest(a.cause, a.err, a.detail);
      }
      return;
    case Acquired::Kind::Reused:
      pending_timer_.disarm();
      ++attempts_;
      upstream_ = std::move(a.connection);
      endpoint_ = a.endpoint;
      reused_ = true;
      connect_ms_ = 0.0;
      upstream_->setOwner(this);
      sendRequestHead();
      return;
    case Acquired::Kind::Connecting:
      pending_timer_.disarm();
      ++attempts_;
      upstream_ = std::move(a.connection);
      endpoint_ = a.endpoint;
      reused_ = false;
      connect_start_ = loop_.now();
      upstream_->setOwner(this);
      connect_timer_.arm(upstream_config_->connect_timeout);
      return;
  }
}

void ProxySession::onClusterReady() {
  waiting_ = false;
  if (done_) return;
  acquire();
}

void ProxySession::onConnected() {
  connect_timer_.disarm();
  connected_at_ = loop_.now();
  connect_ms_ = msSince(connect_start_);
  upstream_->connected = true;
  cluster_->reportConnect(*endpoint_, true);
  sendRequestHead();
}

void ProxySession::sendRequestHead() {
  phase_ = Phase::SendRequest;
  upstream_->connected = true;
  request_bytes_sent_ = 0;
  response_bytes_ = 0;
  auto& conn = upstream_->connection();
  conn.setTimeouts(milliseconds(0), milliseconds(0));
  conn.enableRead();

  response_parser_ = std::make_unique<http::MessageParser>(
      http::MessageParser::Type::Response, *this, upstream_config_->max_response_header_bytes);
  response_parser_->setExpectNoBody(request_.isHead());

  http::ForwardContext ctx{client_.clientIp(), request_id_, endpoint_->name};
  const std::string head = http::buildUpstreamRequestHead(request_, ctx);
  conn.write(head);
  request_bytes_sent_ += head.size();

  // Body bytes that arrived before the connection was ready.
  const size_t staged = evbuffer_get_length(staged_.get());
  if (staged > 0) {
    if (reused_ && replayable_) {
      if (!replay_) replay_ = newBuffer();
      if (evbuffer_get_length(replay_.get()) + staged <= kReplayLimit) {
        const auto* bytes = evbuffer_pullup(staged_.get(), -1);
        evbuffer_add(replay_.get(), bytes, staged);
      } else {
        replayable_ = false;
      }
    }
    request_bytes_sent_ += staged;
    conn.writeBuffer(staged_.get());
  }
  maybeArmHeaderTimer();
  if (body_paused_ && conn.outputLength() <= kHighWatermark) {
    body_paused_ = false;
    client_.resumeRequestBody();
  }
}

void ProxySession::maybeArmHeaderTimer() {
  if (!request_complete_ || !upstream_ || phase_ != Phase::SendRequest) return;
  phase_ = Phase::ReadResponseHeaders;
  request_sent_at_ = loop_.now();
  if (!response_started_) header_timer_.arm(upstream_config_->response_header_timeout);
}

// --- request body ---------------------------------------------------------------------------

void ProxySession::writeRequestWire(const char* data, size_t len) {
  if (done_ || len == 0) return;
  const bool live = upstream_ && upstream_->connected && phase_ != Phase::ConnectUpstream;
  if (live) {
    auto& conn = upstream_->connection();
    conn.write(data, len);
    request_bytes_sent_ += len;
    if (reused_ && replayable_) {
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
  if (done_) return;
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
  evbuffer* in = conn.input();
  while (!done_ && !upstream_read_paused_) {
    iovec vec{};
    if (evbuffer_peek(in, -1, nullptr, reinterpret_cast<evbuffer_iovec*>(&vec), 1) < 1 ||
        vec.iov_len == 0) {
      break;
    }
    const auto r = response_parser_->feed(static_cast<const char*>(vec.iov_base), vec.iov_len);
    if (done_ || !upstream_) return;  // the connection (and `in`) may be gone
    evbuffer_drain(in, r.consumed);
    response_bytes_ += r.consumed;
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
      case S::Error:
        if (response_started_) {
          abortResponse(FailureCause::MalformedResponse, 0);
        } else {
          failRequest(FailureCause::MalformedResponse, 0,
                      response_parser_->error().code + ": " + response_parser_->error().reason);
        }
        return;
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
  if ((what & BEV_EVENT_CONNECTED) != 0) {
    onConnected();
    return;
  }
  if (tunnel_) {
    pumpTunnel(upstream_->connection(), client_.connection());
    finish(true);
    return;
  }
  if (phase_ == Phase::ConnectUpstream) {
    FailureCause cause = FailureCause::ConnectError;
    if (err == ECONNREFUSED) cause = FailureCause::ConnectRefused;
    if (err == ETIMEDOUT) cause = FailureCause::ConnectTimeout;
    cluster_->reportConnect(*endpoint_, false);
    attemptFailed(cause, err);
    return;
  }
  if ((what & BEV_EVENT_TIMEOUT) != 0) {
    abortResponse(FailureCause::BodyIdleTimeout, 0);
    return;
  }
  if ((what & BEV_EVENT_EOF) != 0) {
    onUpstreamClosed(false, 0);
    return;
  }
  onUpstreamClosed(err == ECONNRESET, err);
}

void ProxySession::onUpstreamClosed(bool reset, int err) {
  // Parse what is still buffered first: a response may be complete in the input already.
  if (upstream_->connection().inputLength() > 0 && !upstream_read_paused_) {
    onReadable();
    if (done_) return;
  }
  if (!reset && response_parser_) {
    if (response_parser_->finish() == http::MessageParser::Status::MessageComplete) {
      completeResponse();  // a close-delimited body ended normally
      return;
    }
  }
  if (response_started_) {
    abortResponse(FailureCause::TruncatedResponse, err);
    return;
  }
  if (reused_ && response_bytes_ == 0) {
    attemptFailed(FailureCause::StaleKeepalive, err);
    return;
  }
  attemptFailed(reset ? FailureCause::UpstreamResetEarly : FailureCause::UpstreamClosedEarly, err);
}

// --- response -------------------------------------------------------------------------------

void ProxySession::onHead() {
  const http::ResponseHead& resp = response_parser_->response();
  if (resp.isInterim()) {
    interim_ = true;
    // HTTP/1.0 clients do not understand interim responses.
    if (request_.version_minor >= 1 && (resp.status != 100 || request_.expect_continue)) {
      client_.connection().write(
          fmt::format("HTTP/1.1 {} {}\r\n\r\n", resp.status,
                      resp.reason.empty() ? http::reasonPhrase(resp.status) : resp.reason));
    }
    return;
  }
  header_timer_.disarm();
  header_at_ = loop_.now();
  header_ms_ = msSince(request_sent_at_ == MonotonicTime{} ? start_ : request_sent_at_);
  phase_ = Phase::StreamBody;
  response_status_ = resp.status;
  if (resp.status == 101) return;  // written by startTunnel once the upgrade is confirmed
  plan_ = http::planResponse(request_, resp, client_.worker().draining() || !request_complete_);
  client_.connection().write(http::buildClientResponseHead(resp, plan_, request_id_));
  response_started_ = true;
  upstream_->connection().setTimeouts(upstream_config_->body_idle_timeout, milliseconds(0));
}

void ProxySession::onBody(const char* data, size_t len) {
  if (interim_) return;
  response_body_bytes_ += len;
  auto& out = client_.connection();
  if (plan_.framing == http::BodyFraming::Chunked) {
    std::string header;
    http::appendChunkHeader(header, len);
    out.write(header);
    out.write(data, len);
    out.write("\r\n", 2);
  } else if (plan_.framing != http::BodyFraming::None) {
    out.write(data, len);
  }
}

void ProxySession::onMessageComplete(const http::Headers& trailers) {
  if (interim_) return;
  if (plan_.framing == http::BodyFraming::Chunked) {
    client_.connection().write(http::lastChunk(trailers));
  }
}

void ProxySession::completeResponse() {
  phase_ = Phase::Complete;
  const auto& resp = response_parser_->response();
  const bool reusable = resp.keep_alive && request_complete_ && !body_paused_ &&
                        resp.framing != http::BodyFraming::UntilClose &&
                        upstream_->connection().inputLength() == 0 &&
                        upstream_->connection().outputLength() == 0;
  const FailureCause cause = upstreamStatusCause(resp.status);
  if (cause != FailureCause::None) report(cause, resp.status, 0, "");
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

bool ProxySession::retryAllowed(FailureCause cause) const {
  if (response_started_ || tunnel_ || upstream_config_ == nullptr) return false;
  if (attempts_ >= 1 + upstream_config_->retries) return false;
  const bool has_body =
      request_.framing == http::BodyFraming::Chunked ||
      (request_.framing == http::BodyFraming::ContentLength && request_.content_length > 0);
  switch (cause) {
    case FailureCause::ConnectRefused:
    case FailureCause::ConnectTimeout:
    case FailureCause::ConnectError:
      return true;  // nothing left the proxy: the staged body is intact
    case FailureCause::StaleKeepalive:
      return !has_body || replayable_;
    case FailureCause::UpstreamClosedEarly:
    case FailureCause::UpstreamResetEarly:
      return isIdempotent(request_.method) && !has_body;
    default:
      return false;
  }
}

void ProxySession::attemptFailed(FailureCause cause, int err) {
  connect_timer_.disarm();
  header_timer_.disarm();
  AttemptRecord rec;
  rec.endpoint = endpoint_ != nullptr ? endpoint_->name : "";
  rec.cause = cause;
  rec.err = err;
  rec.reused = reused_;
  if (upstream_) {
    rec.requests_before = upstream_->requests_served;
    if (reused_) {
      rec.idle_ms = static_cast<int64_t>(
          std::chrono::duration_cast<milliseconds>(start_ - upstream_->idle_since).count());
    }
  }
  attempts_log_.push_back(rec);

  if (retryAllowed(cause)) {
    absorbed_ = cause;
    observe::logger(observe::LoggerId::Upstream)
        .warn(observe::LogEvent("upstream_retry")
                  .add("cause", diagnose::causeName(cause))
                  .add("upstream", cluster_->name())
                  .add("endpoint", rec.endpoint)
                  .add("errno", net::errnoName(err))
                  .add("reused_connection", rec.reused)
                  .add("request_id", request_id_)
                  .add("method", request_.method)
                  .add("path", request_.target)
                  .str());
    releaseUpstream(false);
    if (replay_ && evbuffer_get_length(replay_.get()) > 0) {
      evbuffer_prepend_buffer(staged_.get(), replay_.get());
    }
    replay_.reset();
    acquire();
    return;
  }
  failRequest(cause, err, "");
}

void ProxySession::failRequest(FailureCause cause, int err, std::string_view detail) {
  if (done_) return;
  if (waiting_) {
    cluster_->cancelWait(*this);
    waiting_ = false;
  }
  if (response_started_) {
    abortResponse(cause, err);
    return;
  }
  const auto& info = diagnose::causeInfo(cause);
  report(cause, info.status, err, detail);
  logAccess(info.status);
  releaseUpstream(false);
  const bool close_after = !request_complete_ || client_.worker().draining();
  std::string body = fmt::format("{} {}\ncause: {}\nrequest_id: {}\n", info.status,
                                 http::reasonPhrase(info.status), info.name, request_id_);
  if (client_.worker().config().log.expose_details && endpoint_ != nullptr) {
    body += fmt::format("endpoint: {}\n", endpoint_->name);
  }
  client_.connection().write(
      http::buildLocalReply(info.status, info.name, request_id_, body, close_after));
  finish(close_after);
}

void ProxySession::abortResponse(FailureCause cause, int err) {
  if (done_) return;
  report(cause, response_status_, err, "");
  logAccess(response_status_);
  releaseUpstream(false);
  done_ = true;
  connect_timer_.disarm();
  header_timer_.disarm();
  request_timer_.disarm();
  tunnel_timer_.disarm();
  client_.abortAfterFlush();
}

void ProxySession::onClientGone(int err) {
  if (done_) return;
  report(FailureCause::ClientAborted, 499, err, "");
  logAccess(499);
  cancel();
}

void ProxySession::cancel() {
  if (waiting_ && cluster_ != nullptr) cluster_->cancelWait(*this);
  waiting_ = false;
  if (upstream_ && !upstream_->connected && endpoint_ != nullptr) {
    cluster_->reportProbeAbandoned(*endpoint_);
  }
  releaseUpstream(false);
  done_ = true;
  connect_timer_.disarm();
  header_timer_.disarm();
  request_timer_.disarm();
  pending_timer_.disarm();
  tunnel_timer_.disarm();
}

void ProxySession::finish(bool close_client) {
  done_ = true;
  connect_timer_.disarm();
  header_timer_.disarm();
  request_timer_.disarm();
  pending_timer_.disarm();
  tunnel_timer_.disarm();
  if (tunnel_) releaseUpstream(false);
  // Last: the client may start the next request (and replace the head this session reads).
  client_.onSessionComplete(close_client);
}

void ProxySession::releaseUpstream(bool reusable) {
  if (!upstream_) return;
  if (!reusable) upstream_->connection().close();
  cluster_->release(std::move(upstream_), reusable);
}

// --- tunnel (after 101 Switching Protocols) -------------------------------------------------

void ProxySession::startTunnel() {
  const auto& resp = response_parser_->response();
  if (!request_.upgrade || resp.status != 101) {
    failRequest(FailureCause::MalformedResponse, 0, "101 without an upgrade request");
    return;
  }
  plan_ = http::planResponse(request_, resp, false);
  auto& client = client_.connection();
  auto& upstream = upstream_->connection();
  client.write(http::buildClientResponseHead(resp, plan_, request_id_));
  response_started_ = true;
  tunnel_ = true;
  phase_ = Phase::StreamBody;
  header_timer_.disarm();
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
  to.writeBuffer(from.input());
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

void ProxySession::report(FailureCause cause, int status, int err, std::string_view detail) {
  const auto& info = diagnose::causeInfo(cause);
  observe::LogEvent ev("upstream_failure");
  ev.add("cause", info.name)
      .add("class", info.cause_class)
      .add("status", status)
      .add("origin", diagnose::originName(info.origin))
      .add("upstream", cluster_ != nullptr ? std::string_view(cluster_->name()) : "")
      .add("endpoint", endpoint_ != nullptr ? std::string_view(endpoint_->name) : "")
      .add("phase", diagnose::phaseName(phase_))
      .add("request_id", request_id_)
      .add("method", request_.method)
      .add("path", request_.target)
      .add("errno", net::errnoName(err))
      .add("reused_connection", reused_);
  if (reused_ && upstream_) {
    ev.add("connection_idle_ms",
           static_cast<int64_t>(
               std::chrono::duration_cast<milliseconds>(start_ - upstream_->idle_since).count()));
  } else if (!attempts_log_.empty() && attempts_log_.back().idle_ms >= 0) {
    ev.add("connection_idle_ms", attempts_log_.back().idle_ms);
  } else {
    ev.addNull("connection_idle_ms");
  }
  if (connect_ms_) {
    ev.add("connect_ms", *connect_ms_);
  } else {
    ev.addNull("connect_ms");
  }
  if (header_ms_) {
    ev.add("header_ms", *header_ms_);
  } else {
    ev.addNull("header_ms");
  }
  ev.add("total_ms", msSince(start_))
      .add("request_bytes_sent", request_bytes_sent_)
      .add("response_bytes_received", response_bytes_)
      .add("retried", attempts_log_.size() > 1 || absorbed_ != FailureCause::None)
      .add("attempts", static_cast<uint64_t>(attempts_))
      .add("detail", detail)
      .add("hint", "");
  observe::logger(observe::LoggerId::Diagnose).warn(ev.str());
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
      .add("retried", absorbed_ != FailureCause::None);
  observe::logger(observe::LoggerId::Conn).info(ev.str());
}

}  // namespace triaged::proxy
