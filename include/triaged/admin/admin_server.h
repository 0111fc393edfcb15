#pragma once

// AdminServer: the operator's HTTP endpoints (/healthz, /readyz, /metrics, /config,
// /debug/triage) on the main thread's loop, never on a data-plane worker. It speaks HTTP/1.1
// through the same pieces as the data plane (net::Listener, net::Connection, the strict llhttp
// parser), because probes and scrapers are HTTP clients too and meet the same edge cases: HEAD
// gets the headers and Content-Length of GET and no body, so a pipelined request after it reads
// its own answer; anything that is not HTTP gets 400 and the connection closed; methods other
// than GET and HEAD get 405 with Allow; every answer has a Content-Length, and the connection
// closes after it when the client asked (HTTP/1.0, Connection: close) or after an error. At most
// kMaxConnections at once (the listener pauses beyond); it pauses on EMFILE like the data
// listener. Owned by the Daemon; dies before its loop.

#include <functional>
#include <list>
#include <memory>
#include <string>
#include <string_view>

#include "triaged/core/event_loop.h"
#include "triaged/net/listener.h"
#include "triaged/net/socket_address.h"
#include "triaged/observe/accept_pauses.h"
#include "triaged/observe/metrics.h"

namespace triaged::admin {

class AdminServer {
 public:
  struct Hooks {
    std::function<bool()> draining;  // /readyz answers 503 while true
    // /metrics: OpenMetrics (with exemplars) when `openmetrics`, else the Prometheus text format.
    std::function<std::string(bool openmetrics)> metrics;
    std::function<std::string()> config;           // /config: the effective configuration, JSON
    std::function<std::string(bool text)> triage;  // /debug/triage (?format=text)
  };

  // What one request gets.
  struct Reply {
    int status = 200;
    std::string content_type = "text/plain; charset=utf-8";
    std::string body;
    bool close = false;  // close the connection after it (errors)
    std::string allow;   // 405
  };

  static constexpr size_t kMaxConnections = 64;

  // Binds `address` (port 0 picks a free port); throws std::runtime_error at startup.
  AdminServer(EventLoop& loop, const net::SocketAddress& address, Hooks hooks,
              observe::ListenerMetrics& listener_metrics);
  ~AdminServer();
  AdminServer(const AdminServer&) = delete;
  AdminServer& operator=(const AdminServer&) = delete;

  // The bound address, e.g. "127.0.0.1:9901".
  const net::SocketAddress& address() const { return bound_; }

  // The answer to `method` `target` (pure given the hooks; exposed for the session). `accept`:
  // the request's Accept field, which chooses the /metrics format.
  Reply handle(std::string_view method, std::string_view target, std::string_view accept) const;

 private:
  class Session;
  void accept(int fd);
  void onSessionClosed(Session& session);

  EventLoop& loop_;
  Hooks hooks_;
  net::SocketAddress bound_;
  observe::AcceptPauseReporter pauses_;
  std::unique_ptr<net::Listener> listener_;
  std::list<std::unique_ptr<Session>> sessions_;
};

}  // namespace triaged::admin
