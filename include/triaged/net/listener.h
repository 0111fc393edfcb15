#pragma once

// Listener: one listening socket on a loop (an evconnlistener), handing accepted sockets to its
// owner. When accept() fails for want of resources (EMFILE, ENFILE, ENOBUFS, ENOMEM) it stops
// for kErrorPause and tries again, as nginx and HAProxy do: libevent's listener alone retries at
// once, and without an error callback prints every failure to stderr — a connection left in the
// backlog at the descriptor limit turned that into a busy loop of a million lines a second. The
// owner can also pause it for a limit of its own (max_client_connections) and resume it when a
// connection closes. Every pause is reported to the owner (`on_pause`). Loop thread only; owned
// by a Worker or the AdminServer; closes its socket when destroyed.

#include <sys/socket.h>

#include <chrono>
#include <functional>

#include "triaged/core/c_handle.h"
#include "triaged/core/event_loop.h"

namespace triaged::net {

class Listener {
 public:
  using OnAccept = std::function<void(int fd, const sockaddr* peer, socklen_t peer_len)>;
  // `err`: the errno of the accept() that failed, or 0 for a pause the owner asked for.
  using OnPause = std::function<void(int err)>;

  static constexpr std::chrono::milliseconds kErrorPause{100};

  // Takes ownership of `fd`, a bound and listening socket. Throws std::runtime_error (startup
  // only) when libevent cannot make the listener.
  Listener(EventLoop& loop, int fd, OnAccept on_accept, OnPause on_pause);
  Listener(const Listener&) = delete;
  Listener& operator=(const Listener&) = delete;

  // The owner's limit is reached: stop accepting until resumeForLimit(). Reported once per pause.
  void pauseForLimit();
  void resumeForLimit();
  bool pausedForLimit() const { return limit_paused_; }

 private:
  static void onAcceptCb(evconnlistener*, evutil_socket_t fd, sockaddr* addr, int len,
                         void* ctx) noexcept;
  static void onErrorCb(evconnlistener*, void* ctx) noexcept;
  void updateEnabled();

  EventLoop& loop_;
  OnAccept on_accept_;
  OnPause on_pause_;
  ListenerPtr listener_;
  Timer retry_;
  bool limit_paused_ = false;
  bool error_paused_ = false;
};

}  // namespace triaged::net
