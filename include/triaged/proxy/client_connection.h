#pragma once

// ClientConnection: one accepted downstream connection. Owns the socket (through net::Connection),
// the request parser, the client-side timers (header, idle, body) and the ProxySession of the
// request being answered. Requests are taken one at a time; pipelined bytes wait in the input
// block (at most BufferPool::kBlockSize, then reading stops) until the previous response is queued,
// so responses go out in order. Runs on its worker's loop; owned by the worker, destroyed on a
// later loop turn after close().

#include <list>
#include <memory>
#include <string>

#include "triaged/core/event_loop.h"
#include "triaged/diagnose/failure.h"
#include "triaged/http/message_parser.h"
#include "triaged/net/connection.h"
#include "triaged/proxy/worker_context.h"

namespace triaged::proxy {

class ProxySession;

class ClientConnection final : public DeferredDeletable,
                               public net::ConnectionCallbacks,
                               public http::ParserCallbacks {
 public:
  // Takes ownership of `fd`, an accepted non-blocking socket; `tls`: accepted on the TLS
  // listener, whose context it keeps for its handshake (a reload may replace the listener's).
  ClientConnection(WorkerContext& worker, int fd, const net::SocketAddress& peer,
                   std::shared_ptr<const net::TlsServerContext> tls = nullptr);
  ~ClientConnection() override;

  // The worker's registry position, for O(1) removal.
  std::list<std::unique_ptr<ClientConnection>>::iterator registry_position;

  void start();
  // The worker is draining: close now if idle, else after the current response.
  void drain();
  // Closes the socket at once (drain deadline, fatal errors) and aborts any session.
  void close();
  bool closed() const { return closed_; }

  // --- for the session ---
  net::Connection& connection() { return connection_; }
  const std::string& clientIp() const { return client_ip_; }
  WorkerContext& worker() { return worker_; }
  // The session has queued its whole response. `close_after`: close once it is written.
  void onSessionComplete(bool close_after);
  // The response cannot be finished (upstream died mid-body): send what is queued, then close
  // without anything that would make the response look complete.
  void abortAfterFlush();
  // Backpressure from the upstream side on the request body.
  void pauseRequestBody();
  void resumeRequestBody();
  // After a 101: the input buffer now carries tunnel bytes for the session.
  void enterTunnel();
  // Writes a proxy-made reply for a request that has no session (parse errors, limits), then
  // closes (lingering).
  void sendLocalReply(int status, diagnose::FailureCause cause, std::string_view request_id,
                      std::string_view detail, std::string_view allow = {});

  // ConnectionCallbacks
  void onReadable() override;
  void onWriteDrained() override;
  void onEvent(short what, int err) override;

  // ParserCallbacks
  void onHead() override;
  void onBody(const char* data, size_t len) override;
  void onMessageComplete(const http::Headers& trailers) override;

 private:
  enum class TimerMode : uint8_t { None, Header, Idle };

  void processInput();
  void startNextRequest();
  void handleParseError();
  // Closes once the output is written, with a lingering close (kLingerTime in the .cc) when
  // `client_may_send` (the request was answered before it was read to its end) or input waits.
  void closeWhenDrained(bool client_may_send);
  void finishClose();
  void armTimer(TimerMode mode);
  void onTimer();
  void finishSession();
  // A failure with no session (the request never got one): reported and counted.
  void reportClientFailure(diagnose::FailureCause cause, int status, std::string_view detail,
                           int err, std::string_view request_id);
  // The client's TLS handshake failed (or timed out): counted, logged, closed.
  void failTlsHandshake(diagnose::TlsClientFailure reason);

  WorkerContext& worker_;
  std::shared_ptr<const net::TlsServerContext> tls_context_;  // before connection_: outlives it
  net::Connection connection_;
  std::string client_ip_;
  std::string peer_;
  http::MessageParser parser_;
  std::unique_ptr<ProxySession> session_;
  TimerMode timer_mode_ = TimerMode::None;  // what the connection's deadline stands for
  uint64_t body_bytes_ = 0;
  uint64_t requests_ = 0;
  bool closed_ = false;
  bool close_when_drained_ = false;
  bool linger_ = false;        // close_when_drained_ with a lingering close
  bool lingering_ = false;     // FIN sent; reading and dropping until the client closes
  bool request_done_ = false;  // the current request's message is complete
  bool session_done_ = false;  // the current response is fully queued
  bool body_paused_ = false;
  bool read_eof_ = false;  // the client half-closed
  bool tunnel_ = false;
  bool processing_ = false;
  bool pending_start_ = false;  // a session was created by onHead; start it after feed()
  bool draining_ = false;
};

}  // namespace triaged::proxy
