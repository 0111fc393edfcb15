#pragma once

// AdminServer: the operator's HTTP endpoints (/healthz, /readyz; /metrics, /config and
// /debug/triage arrive with the metrics issue), served by libevent's evhttp on the main
// thread's loop, never on a data-plane worker. Owned by the Daemon; dies before its loop.

#include <functional>
#include <string>

#include "triaged/core/c_handle.h"
#include "triaged/core/event_loop.h"
#include "triaged/net/socket_address.h"

namespace triaged::admin {

class AdminServer {
 public:
  struct Hooks {
    std::function<bool()> draining;                // /readyz answers 503 while true
    std::function<std::string()> metrics;          // /metrics: Prometheus text format
    std::function<std::string()> config;           // /config: the effective configuration, JSON
    std::function<std::string(bool text)> triage;  // /debug/triage (?format=text)
  };

  // Binds `address` (port 0 picks a free port); throws std::runtime_error at startup.
  AdminServer(EventLoop& loop, const net::SocketAddress& address, Hooks hooks);
  AdminServer(const AdminServer&) = delete;
  AdminServer& operator=(const AdminServer&) = delete;

  // The bound address, e.g. "127.0.0.1:9901".
  const net::SocketAddress& address() const { return bound_; }

 private:
  static void onRequest(evhttp_request* req, void* ctx) noexcept;
  void handle(evhttp_request* req);

  Hooks hooks_;
  EvHttpPtr http_;
  net::SocketAddress bound_;
};

}  // namespace triaged::admin
