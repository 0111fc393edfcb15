#pragma once

// Resolver: asynchronous name resolution on one worker's loop through libevent's evdns, with
// the configured name servers (or /etc/resolv.conf) and /etc/hosts. Owned by the worker,
// declared before everything that queries it. Loop thread only.

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "triaged/config/config.h"
#include "triaged/core/c_handle.h"
#include "triaged/core/event_loop.h"
#include "triaged/net/socket_address.h"

namespace triaged::net {

struct Resolution {
  int error = 0;           // 0, or an EVUTIL_EAI_* code
  std::string error_text;  // "nodename nor servname provided, or not known" ...
  std::vector<SocketAddress> addresses;
  bool nameNotFound() const;  // NXDOMAIN-like: the name does not exist
};

class Resolver {
 public:
  // With no `servers`, the name servers, search list and options come from `resolv_conf`.
  // Throws std::runtime_error at startup if evdns cannot be set up.
  Resolver(EventLoop& loop, const std::vector<config::HostPort>& servers,
           const std::string& resolv_conf = "/etc/resolv.conf");
  ~Resolver();

  class Query;
  using QueryPtr = std::unique_ptr<Query>;
  using Callback = std::function<void(const Resolution&)>;

  // Starts a lookup. The callback runs later on the loop (never inside resolve()), unless the
  // returned handle was destroyed first, which cancels it.
  QueryPtr resolve(const std::string& host, uint16_t port, Callback callback);

 private:
  EventLoop& loop_;
  EvdnsBasePtr dns_;
};

class Resolver::Query {
 public:
  Query(EventLoop& loop, Callback callback);
  ~Query();
  Query(const Query&) = delete;
  Query& operator=(const Query&) = delete;

 private:
  friend class Resolver;
  struct Shared;  // outlives the Query until evdns has called back
  static void onResolved(int result, evutil_addrinfo* res, void* arg) noexcept;
  void deliver();

  Callback callback_;
  Resolution result_;
  Timer deliver_timer_;
  Shared* shared_ = nullptr;
};

}  // namespace triaged::net
