#pragma once

// Connection owns one bufferevent (and through BEV_OPT_CLOSE_ON_FREE its socket) and forwards
// libevent's callbacks to a ConnectionCallbacks owner, which may change over the connection's
// life (an upstream connection moves between a session and its pool). Loop thread only; dies
// with its owner. Once close() has run no callback reaches the owner again.

#include <chrono>
#include <cstddef>
#include <string_view>

#include "triaged/core/c_handle.h"
#include "triaged/net/socket_address.h"

namespace triaged {
class EventLoop;
}

namespace triaged::net {

class ConnectionCallbacks {
 public:
  virtual ~ConnectionCallbacks() = default;
  virtual void onReadable() = 0;
  // The output buffer fell to the low watermark (0 unless set): everything was written.
  virtual void onWriteDrained() = 0;
  // BEV_EVENT_* flags; `err` is the socket errno captured when libevent saw the event.
  virtual void onEvent(short what, int err) = 0;
};

class Connection {
 public:
  Connection(BufferEventPtr bev, ConnectionCallbacks* callbacks);
  ~Connection() = default;
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  void setCallbacks(ConnectionCallbacks* callbacks) { callbacks_ = callbacks; }
  bool open() const { return bev_ != nullptr; }
  void close() { bev_.reset(); }

  evbuffer* input() const { return bufferevent_get_input(bev_.get()); }
  evbuffer* output() const { return bufferevent_get_output(bev_.get()); }
  size_t outputLength() const { return evbuffer_get_length(output()); }
  size_t inputLength() const { return evbuffer_get_length(input()); }

  void write(std::string_view data);
  void write(const char* data, size_t len);
  // Moves all of `source` into the output without copying the bytes.
  void writeBuffer(evbuffer* source);

  void enableRead();
  void disableRead();
  bool readEnabled() const;
  // Stop reading from the socket while `high` bytes wait in the input buffer (0 = no limit).
  void setReadHighWatermark(size_t high);
  // 0 disables the timeout.
  void setTimeouts(std::chrono::milliseconds read, std::chrono::milliseconds write);

  int fd() const;

 private:
  static void onRead(bufferevent*, void* ctx) noexcept;
  static void onWrite(bufferevent*, void* ctx) noexcept;
  static void onEventCb(bufferevent*, short what, void* ctx) noexcept;

  BufferEventPtr bev_;
  ConnectionCallbacks* callbacks_;
};

// Wraps an accepted socket: non-blocking, TCP_NODELAY, bufferevent with
// BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS. Aborts on allocation failure.
BufferEventPtr adoptSocket(EventLoop& loop, int fd);

struct ConnectStart {
  BufferEventPtr bev;  // set when the connect is under way (CONNECTED/ERROR event follows)
  int err = 0;         // set when connect() failed at once (e.g. ECONNREFUSED on loopback)
};
// Starts a non-blocking connect. An immediate failure is returned with its errno rather than
// reported later without one.
ConnectStart startConnect(EventLoop& loop, const SocketAddress& address);

}  // namespace triaged::net
