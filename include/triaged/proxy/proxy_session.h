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
#include "triaged/core/request_id.h"
#include "triaged/diagnose/classifier.h"
#include "triaged/diagnose/failure.h"
#include "triaged/http/header_rewrite.h"
#include "triaged/http/message_parser.h"
#include "triaged/net/connection.h"
#include "triaged/proxy/upstream_cluster.h"

namespace triaged::proxy {

class ClientConnection;

class ProxySession final : public DeferredDeletable,
                           public net::ConnectionCallbacks,
                           public http::ParserCallbacks,
                           public ClusterWaiter {
 public:
  ProxySession(ClientConnection& client, const http::RequestHead& request,
               const RequestId& request_id);
  ~ProxySession() override;

  // One session is made and destroyed per request, always on its worker's thread: their memory
  // is recycled through a per-thread free list, which keeps malloc off the request path. (Plain
  // new/delete under AddressSanitizer, so it still sees a use after free.)
  static void* operator new(size_t size);
  static void operator delete(void* p, size_t size) noexcept;

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
  std::string_view requestId() const { return request_id_; }

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
  // TCP connected; a plain connection sends the request at once, a TLS one shakes hands first.
  void onConnected();
  void onTlsEstablished();
  void onTlsFailed();
  void sendRequestHead();
  void writeRequestWire(const char* data, size_t len);
  void maybeArmHeaderTimer();
  // The current attempt failed (its cause is in the classifier): retry when safe, else answer.
  void attemptFailed();
  // Answer the client with the proxy-made reply for the classifier's verdict.
  void failRequest();
  void completeResponse();
  // A failure after the head went out: flush what was received, then cut the connection.
  void abortResponse();
  void onUpstreamClosed(bool reset, int err);
  void startTunnel();
  void pumpTunnel(net::Connection& from, net::Connection& to);
  void finish(bool close_client);
  void stopTimers();
  void releaseUpstream(bool reusable);
  // Takes the upstream connection from the session: its parser and deadline are no longer ours.
  UpstreamConnectionPtr detachUpstream();
  // The client went away: is there a response to drain (a request wholly sent on a connection,
  // no tunnel)? Whether the drain can end with the connection pooled is the drain's to judge.
  bool upstreamDrainable() const;
  // The failure as the reporter wants it (views into this session: use at once).
  observe::FailureRecord failureRecord(const diagnose::Verdict& verdict);
  // May the request be sent again if a connection dies under it (PRODUCT.md, safe retry)?
  bool replayableRequest() const;
  void report();
  void logRetry();
  // Counts the request once in the metrics, by the status the client saw and its origin.
  void countRequest(int status);
  void logAccess(int status);
  double msSince(MonotonicTime t) const;

  ClientConnection& client_;
  EventLoop& loop_;
  const http::RequestHead& request_;  // owned by the client's parser until the next request
  RequestId request_id_;
  // Kept alive by this session, even if a reload removes the upstream meanwhile; declared before
  // upstream_, whose connection reports to it as it dies.
  std::shared_ptr<UpstreamCluster> cluster_;
  UpstreamConfigPtr upstream_settings_;  // the settings this request started with
  const config::UpstreamConfig* upstream_config_ = nullptr;
  MonotonicTime start_;
  diagnose::Classifier classifier_;

  UpstreamConnectionPtr upstream_;
  Endpoint* endpoint_ = nullptr;
  bool reused_ = false;
  bool waiting_ = false;
  bool woken_ = false;  // acquire() runs because the cluster woke this session from its queue
  bool request_sent_ = false;
  http::MessageParser* response_parser_ = nullptr;  // the upstream connection's, while we hold it

  EvBufferPtr staged_;  // request body wire bytes waiting for a connection (made on demand)
  EvBufferPtr replay_;  // copy of the body wire bytes sent, for a safe retry (bounded)
  bool replay_wanted_ = false;
  bool replayable_ = true;
  bool has_body_ = false;
  bool request_complete_ = false;
  bool body_paused_ = false;

  http::ResponsePlan plan_;
  bool response_started_ = false;  // a response byte (head) went to the client
  bool interim_ = false;
  bool sniff_body_ = false;  // 502/504 passed on: look at the first body bytes for the hop
  int response_status_ = 0;
  bool upstream_read_paused_ = false;
  bool tunnel_ = false;
  bool done_ = false;
  bool reported_ = false;
  bool counted_ = false;
  observe::UpstreamMetrics* metrics_ = nullptr;
  uint32_t attempts_ = 0;
  std::string_view retry_decision_;  // why a retryable cause was not retried (static text)
  std::string idle_close_text_;      // for a stale_keepalive record: what is known of the limit
  std::string_view trace_id_;        // the W3C trace id (the client's header, or started_...)
  std::string started_traceparent_;  // a traceparent triaged started (trace_context = "start")
  std::string passed_on_status_;     // Proxy-Status member for a passed-on 5xx
  uint64_t response_body_bytes_ = 0;

  Timer connect_timer_;
  Timer request_timer_;
  Timer pending_timer_;
  Timer tunnel_timer_;
  MonotonicTime tunnel_activity_{};
};

}  // namespace triaged::proxy
