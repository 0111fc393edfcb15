#include "triaged/proxy/client_connection.h"

#include <sys/uio.h>

#include "triaged/core/request_id.h"
#include "triaged/diagnose/failure_table.h"
#include "triaged/http/header_rewrite.h"
#include "triaged/http/trace_context.h"
#include "triaged/observe/loggers.h"
#include "triaged/proxy/local_reply.h"
#include "triaged/proxy/proxy_session.h"

namespace triaged::proxy {
namespace {

using diagnose::FailureCause;

// A lingering close (after nginx's lingering_close): once the last response is written, FIN,
// then read and drop what the client still sends, until it closes, is silent for kLingerIdle,
// or kLingerTime passes. Closing with its bytes unread would make our kernel answer them with
// RST, and an RST can destroy the response in the client's receive buffer before it is read:
// exactly the early answers (413, 401) that are sent while the client is still uploading.
constexpr std::chrono::milliseconds kLingerTime{10'000};
constexpr std::chrono::milliseconds kLingerIdle{2'000};

// 405 to CONNECT: what a reverse proxy does accept (RFC 9110 15.5.6: Allow is required).
constexpr std::string_view kAllowedMethods = "GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS, TRACE";

}  // namespace

ClientConnection::ClientConnection(WorkerContext& worker, int fd, const net::SocketAddress& peer,
                                   std::shared_ptr<const net::TlsServerContext> tls)
    : worker_(worker),
      tls_context_(std::move(tls)),
      connection_(worker.loop(), fd, this),
      client_ip_(net::ipString(peer.get())),
      peer_(peer.toString()),
      parser_(http::MessageParser::Type::Request, *this,
              worker.config().server.max_request_header_bytes) {
  if (tls_context_) connection_.startTls(std::make_unique<net::TlsSession>(*tls_context_, fd));
}

ClientConnection::~ClientConnection() {
  // The session refers to this connection: it goes first.
  session_.reset();
}

void ClientConnection::start() {
  connection_.setTimeouts(std::chrono::milliseconds(0),
                          worker_.config().server.client_idle_timeout);
  armTimer(TimerMode::Header);
}

void ClientConnection::armTimer(TimerMode mode) {
  // The connection's deadline: re-armed for every request, so it must cost no timer add/del.
  timer_mode_ = mode;
  const auto& s = worker_.config().server;
  switch (mode) {
    case TimerMode::None:
      connection_.clearDeadline();
      break;
    case TimerMode::Header:
      connection_.setDeadline(worker_.loop().now() + s.client_header_timeout);
      break;
    case TimerMode::Idle:
      connection_.setDeadline(worker_.loop().now() + s.client_idle_timeout);
      break;
  }
}

void ClientConnection::onTimer() {
  if (closed_) return;
  if (lingering_) {
    close();  // kLingerTime is up
    return;
  }
  if (connection_.tls() != nullptr && !connection_.tls()->established()) {
    // client_header_timeout runs from the accept: a handshake that never ends is the client's.
    failTlsHandshake(diagnose::TlsClientFailure::Timeout);
    return;
  }
  if (timer_mode_ == TimerMode::Header && (parser_.messageStarted() || connection_.inputLength())) {
    // A partial request head that never completed: slow or stuck client (or slowloris).
    const std::string id = generateRequestId();
    reportClientFailure(FailureCause::ClientTimeout, 408, "request header not received in time", 0,
                        id);
    sendLocalReply(408, FailureCause::ClientTimeout, id, "");
    return;
  }
  // Nothing pending: an idle keep-alive connection is simply closed.
  close();
}

void ClientConnection::drain() {
  draining_ = true;
  if (closed_) return;
  const bool idle = !session_ && !parser_.messageStarted() && connection_.inputLength() == 0;
  if (idle) close();
}

void ClientConnection::close() {
  if (closed_) return;
  closed_ = true;
  armTimer(TimerMode::None);
  if (session_) session_->cancel();
  connection_.close();
  worker_.onClientClosed(*this);
}

void ClientConnection::closeWhenDrained(bool client_may_send) {
  if (close_when_drained_) return;
  close_when_drained_ = true;
  // Linger only when the client may still be sending: the rest of a request that was answered
  // before it was read, or bytes pipelined behind the last request answered.
  linger_ = !read_eof_ && (client_may_send || connection_.inputLength() > 0);
  armTimer(TimerMode::None);
  if (!linger_) connection_.disableRead();
  if (connection_.outputLength() == 0) finishClose();
}

void ClientConnection::finishClose() {
  if (!linger_ || read_eof_) {
    close();
    return;
  }
  lingering_ = true;
  connection_.consumeInput(connection_.inputLength());
  connection_.shutdownWrite();
  connection_.setDeadline(worker_.loop().now() + kLingerTime);
  connection_.setTimeouts(kLingerIdle, std::chrono::milliseconds(0));
  connection_.enableRead();
}

void ClientConnection::onReadable() {
  if (close_when_drained_) {
    // Answered and closing: whatever the client still sends is read and dropped.
    if (linger_) connection_.consumeInput(connection_.inputLength());
    return;
  }
  if (tunnel_) {
    if (session_) session_->onTunnelClientReadable();
    return;
  }
  processInput();
}

void ClientConnection::onWriteDrained() {
  if (closed_) return;
  // Deferred callbacks run late: more output may have been queued since libevent saw the
  // buffer drained (and libevent also reports the first writable event on a fresh socket).
  if (connection_.outputLength() > 0) return;
  if (close_when_drained_) {
    if (!lingering_) finishClose();
    return;
  }
  if (session_) session_->onClientDrained();
}

void ClientConnection::onEvent(short what, int err) {
  if (closed_ || what == net::kEventTlsEstablished) return;  // the request follows as bytes
  if (lingering_) {
    close();  // the client closed, went silent, or kLingerTime passed
    return;
  }
  if ((what & net::kEventDeadline) != 0) {
    onTimer();  // the header or idle deadline (armTimer)
    return;
  }
  if ((what & net::kEventTls) != 0) {
    failTlsHandshake(connection_.tls()->clientFailure());
    return;
  }
  if (tunnel_) {
    if (session_) session_->onTunnelClientEvent(what);
    return;
  }
  if ((what & net::kEventEof) != 0 && (what & net::kEventError) == 0) {
    read_eof_ = true;
    // A FIN while the response is still owed means the client gave up (its own timeout, a
    // closed tab): reported as client_aborted (499), as nginx does. Half-closing clients that
    // still want the answer are rare for HTTP and lose it here.
    if (session_ && !session_done_) {
      session_->onClientGone(0);
      close();
      return;
    }
    const net::TlsSession* tls = connection_.tls();
    if (tls != nullptr && requests_ == 0 && tls->serverNameUnknown() && !parser_.messageStarted()) {
      // Clients such as curl check the name after the handshake and just close: a name the
      // certificate does not carry, then nothing, is the same failure seen a moment later.
      failTlsHandshake(diagnose::TlsClientFailure::UnknownSni);
      return;
    }
    if (!request_done_ && parser_.messageStarted()) {
      reportClientFailure(FailureCause::ClientAborted, 499, "client closed inside the request", 0,
                          generateRequestId());
    }
    if (close_when_drained_) return;
    close();
    return;
  }
  // A socket error, or the write timeout: the client is gone or stuck.
  if (session_ && !session_done_) session_->onClientGone(err);
  close();
}

void ClientConnection::processInput() {
  if (processing_) return;  // the running loop below will see the new state
  processing_ = true;
  while (!closed_ && !close_when_drained_ && !tunnel_) {
    if (request_done_) {
      if (!session_done_) break;
      startNextRequest();
      continue;
    }
    if (body_paused_) break;
    const std::string_view in = connection_.inputData();
    if (in.empty()) break;
    const auto result = parser_.feed(in.data(), in.size());
    if (closed_) break;  // the socket and its buffers are gone
    connection_.consumeInput(result.consumed);
    using S = http::MessageParser::Status;
    if (result.status == S::Error) {
      handleParseError();
      break;
    }
    const bool message_done = result.status == S::MessageComplete || result.status == S::Upgrade;
    if (message_done) request_done_ = true;
    if (pending_start_) {
      // Started only after feed() returns, so a request that is malformed further on in the
      // same read is refused before any byte of it reaches an upstream.
      pending_start_ = false;
      session_->start();
      if (closed_) break;
    }
    if (result.status == S::Upgrade) break;  // the rest belongs to the tunnel, if any
    if (result.status == S::NeedMore && timer_mode_ == TimerMode::Idle &&
        parser_.messageStarted()) {
      armTimer(TimerMode::Header);
    }
  }
  processing_ = false;
  if (closed_) return;
  if (read_eof_ && !session_ && !request_done_) {
    close();
    return;
  }
  if (body_paused_ || (close_when_drained_ && !linger_)) {
    connection_.disableRead();
  } else if (!tunnel_) {
    connection_.enableRead();
  }
}

void ClientConnection::startNextRequest() {
  finishSession();
  request_done_ = false;
  session_done_ = false;
  body_bytes_ = 0;
  parser_.resume();
  if (draining_ || read_eof_) {
    closeWhenDrained(/*client_may_send=*/false);
    return;
  }
  armTimer(connection_.inputLength() > 0 ? TimerMode::Header : TimerMode::Idle);
}

void ClientConnection::finishSession() {
  if (session_) worker_.loop().deferredDelete(std::move(session_));
}

void ClientConnection::onHead() {
  armTimer(TimerMode::None);
  ++requests_;
  const auto& req = parser_.request();
  const auto& server = worker_.config().server;
  const http::Header* id_header = http::findHeader(req.headers, "x-request-id");
  const RequestId request_id =
      id_header != nullptr ? RequestId::fromClient(id_header->value) : RequestId::generate();
  if (req.method == "CONNECT") {
    // triaged is a reverse proxy: it does not open tunnels to arbitrary hosts.
    reportClientFailure(FailureCause::ClientBadRequest, 405, "CONNECT is not supported", 0,
                        request_id);
    sendLocalReply(405, FailureCause::ClientBadRequest, request_id, "CONNECT is not supported",
                   kAllowedMethods);
    return;
  }
  if (server.max_request_body_bytes > 0 && req.framing == http::BodyFraming::ContentLength &&
      req.content_length > server.max_request_body_bytes) {
    reportClientFailure(FailureCause::ClientBadRequest, 413, "request body larger than allowed", 0,
                        request_id);
    sendLocalReply(413, FailureCause::ClientBadRequest, request_id, "");
    return;
  }
  session_done_ = false;
  session_ = std::make_unique<ProxySession>(*this, req, request_id);
  pending_start_ = true;
}

void ClientConnection::onBody(const char* data, size_t len) {
  body_bytes_ += len;
  const auto limit = worker_.config().server.max_request_body_bytes;
  if (limit > 0 && body_bytes_ > limit) {
    // Chunked bodies announce no size: the limit is found while streaming.
    if (session_ && !session_done_) {
      const std::string id(session_->requestId());
      const bool answered = session_->responseStarted();
      session_->cancel();
      pending_start_ = false;
      reportClientFailure(FailureCause::ClientBadRequest, 413, "request body larger than allowed",
                          0, id);
      finishSession();
      if (answered) {
        abortAfterFlush();
      } else {
        sendLocalReply(413, FailureCause::ClientBadRequest, id, "");
      }
    }
    return;
  }
  if (session_ && !session_done_) {
    session_->onRequestBody(data, len);
  }
}

void ClientConnection::onMessageComplete(const http::Headers& trailers) {
  if (session_ && !session_done_) session_->onRequestComplete(trailers);
}

void ClientConnection::handleParseError() {
  const auto& err = parser_.error();
  int status = 400;
  if (err.kind == http::ParseErrorKind::HeaderTooLarge) status = 431;
  std::string request_id;
  if (session_ && !session_done_) {
    request_id = session_->requestId();
    const bool answered = session_->responseStarted();
    session_->cancel();
    pending_start_ = false;
    finishSession();
    if (answered) {
      // Broken inside a body while the upstream's response is already on its way.
      reportClientFailure(FailureCause::ClientBadRequest, status, err.code + ": " + err.reason, 0,
                          request_id);
      abortAfterFlush();
      return;
    }
  }
  if (request_id.empty()) request_id = generateRequestId();
  reportClientFailure(FailureCause::ClientBadRequest, status, err.code + ": " + err.reason, 0,
                      request_id);
  sendLocalReply(status, FailureCause::ClientBadRequest, request_id, "");
}

void ClientConnection::sendLocalReply(int status, FailureCause cause, std::string_view request_id,
                                      std::string_view detail, std::string_view allow) {
  LocalReply reply;
  reply.status = status;
  reply.cause = cause;
  reply.request_id = request_id;
  reply.detail = detail;
  reply.allow = allow;
  reply.close = true;  // after a client error the stream cannot be trusted: answer, then close
  connection_.write(buildErrorResponse(reply));
  closeWhenDrained(/*client_may_send=*/true);
}

void ClientConnection::reportClientFailure(FailureCause cause, int status, std::string_view detail,
                                           int err, std::string_view request_id) {
  const auto& req = parser_.request();
  observe::FailureRecord r;
  r.kind = observe::FailureRecord::Kind::Request;
  r.cause = cause;
  r.status = status;
  r.origin = diagnose::causeInfo(cause).origin;
  r.phase = diagnose::Phase::ReadRequestHeaders;
  r.request_id = request_id;
  r.method = req.method;
  r.path = req.target;
  r.client = peer_;
  r.err = err;
  r.detail = detail;
  const auto trace = http::requestTraceParent(req.headers);
  if (trace) r.trace_id = trace->trace_id;
  auto& m = worker_.metrics().none();
  worker_.failures().report(r, m);
  m.countRequest(r.origin, status);
}

void ClientConnection::failTlsHandshake(diagnose::TlsClientFailure reason) {
  const net::TlsSession* tls = connection_.tls();
  std::string detail = tls->errorText();
  if (reason == diagnose::TlsClientFailure::Timeout) {
    detail = "no complete handshake within server.client_header_timeout";
  } else if (reason == diagnose::TlsClientFailure::UnknownSni) {
    detail = "asked for " + tls->serverNameRequested() +
             ", which the certificate does not carry, and gave up";
  }
  worker_.failures().reportTlsClientFailure(reason, peer_, tls->serverNameRequested(), detail,
                                            worker_.metrics());
  close();
}

void ClientConnection::onSessionComplete(bool close_after) {
  session_done_ = true;
  if (close_after || draining_) {
    finishSession();
    closeWhenDrained(/*client_may_send=*/!request_done_);
    return;
  }
  if (!request_done_) {
    // Answered before the request finished (e.g. an early upstream reply): the rest of the
    // body cannot be skipped reliably, so this connection ends here, lingering so that the
    // client can read the answer while it is still sending.
    finishSession();
    closeWhenDrained(/*client_may_send=*/true);
    return;
  }
  processInput();
}

void ClientConnection::abortAfterFlush() {
  // A TLS close_notify would make a response that ends with the connection look complete.
  connection_.setCloseNotify(false);
  session_done_ = true;
  finishSession();
  closeWhenDrained(/*client_may_send=*/false);
}

void ClientConnection::pauseRequestBody() {
  body_paused_ = true;
  connection_.disableRead();
}

void ClientConnection::resumeRequestBody() {
  if (!body_paused_) return;
  body_paused_ = false;
  processInput();
}

void ClientConnection::enterTunnel() {
  tunnel_ = true;
  armTimer(TimerMode::None);
  connection_.setTimeouts(std::chrono::milliseconds(0), std::chrono::milliseconds(0));
  connection_.enableRead();
}

}  // namespace triaged::proxy
