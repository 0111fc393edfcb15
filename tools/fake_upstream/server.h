#pragma once

// The fake upstream's listener and bookkeeping: owns every Connection, the counters /__stats
// reports and the /__stats long-poll waiters. Single-threaded; lives as long as main()'s loop.

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "libevent_handles.h"

namespace fake_upstream {

class Connection;

struct Stats {
  uint64_t connections = 0;  // accepted since start, control connections excluded
  uint64_t requests = 0;     // request heads received, /__stats excluded
  uint64_t open = 0;         // currently open, control connections excluded
};

class Server {
 public:
  Server(event_base* base, std::chrono::milliseconds keepalive_timeout);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Binds `address` ("127.0.0.1:0", "[::1]:0"). On success returns true and sets `bound` to the
  // actual address; otherwise sets `error`.
  bool listen(const std::string& address, std::string& bound, std::string& error);

  std::chrono::milliseconds keepaliveTimeout() const { return keepalive_timeout_; }
  // How long after its idle deadline a connection's close reaches the wire (0: at once). In
  // between, requests that arrive are neither read nor answered: a real server that decided to
  // close, and a network that takes a moment to carry the FIN, as the keep-alive race needs.
  std::chrono::milliseconds idleCloseDelay() const { return idle_close_delay_; }
  void setIdleCloseDelay(std::chrono::milliseconds d) { idle_close_delay_ = d; }
  const Stats& stats() const { return stats_; }

  // Called by connections.
  void countRequest();
  // A connection whose first request is /__stats is the harness asking, not traffic under test.
  void markControl();
  void addStatsWaiter(Connection* c);
  void removeStatsWaiter(Connection* c);
  // Takes the connection out of service; it is deleted on the next loop turn, never inside its
  // own callback.
  void release(Connection* c, bool control);

  // libevent callbacks
  void onAccept(evutil_socket_t fd);
  void onTick();

 private:
  void statsChanged();
  void scheduleTick();

  event_base* base_;
  std::chrono::milliseconds keepalive_timeout_;
  std::chrono::milliseconds idle_close_delay_{0};
  ListenerPtr listener_;
  EventPtr tick_;
  Stats stats_;
  bool stats_dirty_ = false;
  std::unordered_map<Connection*, std::unique_ptr<Connection>> connections_;
  std::vector<std::unique_ptr<Connection>> graveyard_;
  std::unordered_set<Connection*> stats_waiters_;
};

}  // namespace fake_upstream
