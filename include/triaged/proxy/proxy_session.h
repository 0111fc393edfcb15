#pragma once

// ProxySession: one request's journey through the named phases
//   route -> connect_upstream -> send_request -> read_response_headers -> stream_body -> complete
// (accept and read_request_headers belong to the ClientConnection that creates it). It owns the
// upstream connection while in use, the request body bytes not yet sent (and a bounded copy for
// a safe retry), the response parser and the per-request timers. It decides every failure's
// cause and answers proxy-made errors from the cause table. Created by its ClientConnection when
// a request head is complete; destroyed on a later loop turn after it reports completion.

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "triaged/core/c_handle.h"
#include "triaged/core/event_loop.h"
#include "triaged/diagnose/failure.h"
#include "triaged/http/header_rewrite.h"
#include "triaged/http/message_parser.h"
#include "triaged/net/connection.h"
#include "triaged/proxy/upstream_cluster.h"

namespace triaged::proxy {

class ClientConnection;

// Facts about one attempt, kept for the failure report (and the retry chain).
struct AttemptRecord {
  std::string endpoint;
  diagnose::FailureCause cause = diagnose::FailureCause::None;
  int err = 0;
  bool reused = false;
  uint32_t requests_before = 0;
  int64_t idle_ms = -1;
};

class ProxySession final : public DeferredDeletable,
                           public net::ConnectionCallbacks,
                           public http::ParserCallbacks,
                           public ClusterWaiter {
 public:
  ProxySession(ClientConnection& client, const http::RequestHead& request, std::string request_id);
  ~ProxySession() override;

  void start();
  // Request body bytes as parsed (de-chunked), and the end of the request.
  void onRequestBody(const char* data, size_t len);
  void onRequestComplete(const http::Headers& trailers);
  // The client went away (EOF before the response finished, or a socket error).
  void onClientGone(int err);
  // Stop everything without a report (the client connection answers or closes itself).
  void cancel();
  // The client's output drained: resume reading the upstream if it was paused.
  void onClientDrained();
  // Tunnel mode: bytes arrived from the client, or it closed.
  void onTunnelClientReadable();
  void onTunnelClientEvent(short what);

  bool requestBodyPaused() const { return body_paused_; }
  bool tunnelling() const { return tunnel_; }
  bool responseStarted() const { return response_started_; }
  const std::string& requestId() const { return request_id_; }

  // ConnectionCallbacks (upstream connection)
  void onReadable() override;
  void onWriteDrained() override;
  void onEvent(short what, int err) override;

  // ParserCallbacks (response parser)
  void onHead() override;
  void onBody(const char* data, size_t len) override;
  void onMessageComplete(const http::Headers& trailers) override;

  // ClusterWaiter
  void onClusterReady() override;

 private:
  void acquire();
  void onConnected();
  void sendRequestHead();
  void writeRequestWire(const char* data, size_t len);
  void maybeArmHeaderTimer();
  void attemptFailed(diagnose::FailureCause cause, int err);
  bool retryAllowed(diagnose::FailureCause cause) const;
  void failRequest(diagnose::FailureCause cause, int err, std::string_view detail);
  void completeResponse();
  void abortResponse(diagnose::FailureCause cause, int err);
  void onUpstreamClosed(bool reset, int err);
  void startTunnel();
  void pumpTunnel(net::Connection& from, net::Connection& to);
  void finish(bool close_client);
  void releaseUpstream(bool reusable);
  void report(diagnose::FailureCause cause, int status, int err, std::string_view detail);
  void logAccess(int status);
  double msSince(MonotonicTime t) const;

  ClientConnection& client_;
  EventLoop& loop_;
  const http::RequestHead& request_;  // owned by the client's parser until the next request
  std::string request_id_;
  UpstreamCluster* cluster_ = nullptr;
  const config::UpstreamConfig* upstream_config_ = nullptr;
  diagnose::Phase phase_ = diagnose::Phase::Route;

  UpstreamConnectionPtr upstream_;
  Endpoint* endpoint_ = nullptr;
  bool reused_ = false;
  bool waiting_ = false;
  std::unique_ptr<http::MessageParser> response_parser_;

  EvBufferPtr staged_;  // request body wire bytes waiting for a connection
  EvBufferPtr replay_;  // copy of body wire bytes sent on a reused connection (bounded)
  bool replayable_ = true;
  bool request_complete_ = false;
  bool body_paused_ = false;
  std::string request_trailer_wire_;

  http::ResponsePlan plan_;
  bool response_started_ = false;  // a response byte (head) went to the client
  bool interim_ = false;
  int response_status_ = 0;
  bool upstream_read_paused_ = false;
  bool tunnel_ = false;
  bool done_ = false;

  uint32_t attempts_ = 0;
  std::vector<AttemptRecord> attempts_log_;
  diagnose::FailureCause absorbed_ = diagnose::FailureCause::None;

  MonotonicTime start_;
  MonotonicTime connect_start_{};
  MonotonicTime connected_at_{};
  MonotonicTime request_sent_at_{};
  MonotonicTime header_at_{};
  std::optional<double> connect_ms_;
  std::optional<double> header_ms_;
  uint64_t request_bytes_sent_ = 0;
  uint64_t response_bytes_ = 0;
  uint64_t response_body_bytes_ = 0;

  Timer connect_timer_;
  Timer header_timer_;
  Timer request_timer_;
  Timer pending_timer_;
  Timer tunnel_timer_;
  MonotonicTime tunnel_activity_{};
};

}  // namespace triaged::proxy
