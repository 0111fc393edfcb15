#pragma once

// Connection owns one non-blocking TCP socket, its input and output evbuffers and the single
// edge-triggered libevent event that watches it, and forwards what happens on the socket to a
// ConnectionCallbacks owner, which may change over the connection's life (an upstream connection
// moves between a session and its pool). Loop thread only; dies with its owner. Once close() has
// run no callback reaches the owner again.
//
// Why not a bufferevent: libevent 2.1's socket bufferevent reads at most 4096 bytes per read
// (EVBUFFER_MAX_READ), asks FIONREAD before every read, and adds and removes EPOLLOUT around
// every write: about six syscalls per proxied request that do no work. The ones left are recv()
// and send() (sendmsg only when the output spans several buffers), the cheapest way in. Here the
// socket is registered once (EV_READ | EV_WRITE | EV_ET | EV_CLOSED) and never touched with
// epoll_ctl again, the way nginx drives epoll:
//   - reads go straight into the input: one block from the loop's BufferPool, taken when bytes
//     arrive and given back when the owner has consumed them all (an idle connection holds
//     none); a full block stops reading, which pushes back on the peer through TCP. A short read
//     means the socket is drained (unless EPOLLRDHUP said a FIN is queued too: then we read on to
//     the end of stream);
//   - writes only append to the output and schedule a flush on this loop turn (a TurnTask of the
//     loop's: one pass for all connections, after the socket events libevent had queued), so
//     everything the callbacks queued goes out in one sendmsg; the socket is written again only
//     when the kernel said it had room (a partial write, or EAGAIN, waits for the next EPOLLOUT
//     edge). The output is a pool block too, for what fits in it (heads, short bodies: a memcpy, no
//     allocation), followed by an evbuffer for what does not (long bodies of slow readers). A
//     body that fills the tail of another connection's input block is not copied at all:
//     forwardInput() lends that block to this output by reference, and it returns to the pool
//     once sent;
//   - no API call runs a callback of the owner: those run only from the socket event or the
//     timeout timer, as with BEV_OPT_DEFER_CALLBACKS.
// Read and write timeouts are lazy: each read or write stores a timestamp, and one timer per
// connection checks them when it fires.

#include <chrono>
#include <cstddef>
#include <string_view>

#include "triaged/core/c_handle.h"
#include "triaged/core/event_loop.h"
#include "triaged/net/socket_address.h"
#include "triaged/net/tls.h"

namespace triaged::net {

// Bits of ConnectionCallbacks::onEvent's `what`.
inline constexpr short kEventReading = 0x01;    // with Eof, Error or Timeout: while reading
inline constexpr short kEventWriting = 0x02;    // with Error or Timeout: while writing
inline constexpr short kEventDeadline = 0x04;   // with Timeout: the deadline set by the owner
inline constexpr short kEventEof = 0x10;        // the peer closed its side (FIN)
inline constexpr short kEventError = 0x20;      // a socket error; `err` is its errno
inline constexpr short kEventTimeout = 0x40;    // the read or write timeout expired
inline constexpr short kEventConnected = 0x80;  // a connect() finished successfully
// TLS connections: the handshake finished (after kEventConnected on an outgoing connection).
inline constexpr short kEventTlsEstablished = 0x100;
// With kEventError: the TLS handshake failed; tls() says why.
inline constexpr short kEventTls = 0x200;

class ConnectionCallbacks {
 public:
  virtual ~ConnectionCallbacks() = default;
  // New bytes are in inputData().
  virtual void onReadable() = 0;
  // A write emptied the output buffer: everything queued reached the kernel.
  virtual void onWriteDrained() = 0;
  // kEvent* flags; `err` is the socket errno for kEventError, else 0.
  virtual void onEvent(short what, int err) = 0;
};

class Connection final : private TurnTask {
 public:
  // Takes ownership of `fd`, a non-blocking socket. `connecting`: a non-blocking connect() is
  // under way; kEventConnected or kEventError (with the errno of SO_ERROR) follows.
  Connection(EventLoop& loop, int fd, ConnectionCallbacks* callbacks, bool connecting = false);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  void setCallbacks(ConnectionCallbacks* callbacks) { callbacks_ = callbacks; }

  // Makes this a TLS connection: `tls` becomes its transport (set before the loop runs its first
  // event: at accept, or right after the connect started). The handshake runs by itself on the
  // socket's events; writes made before it finishes wait in the output, and the owner hears
  // kEventTlsEstablished, or kEventError | kEventTls with tls()->failure() saying why.
  void startTls(std::unique_ptr<TlsSession> tls);
  TlsSession* tls() const { return tls_.get(); }
  // Off: close() sends no close_notify (a response cut short must not end like a complete one).
  void setCloseNotify(bool on) { close_notify_ = on; }
  bool open() const { return fd_ >= 0; }
  // Closes the socket now; what is still in the output is dropped. Safe inside a callback.
  void close();

  // The bytes read and not yet consumed, as one contiguous span (valid until the next call that
  // consumes or reads). At most BufferPool::kBlockSize.
  std::string_view inputData() const {
    return in_block_ != nullptr ? std::string_view(in_block_ + in_start_, in_end_ - in_start_)
                                : std::string_view();
  }
  size_t inputLength() const { return in_end_ - in_start_; }
  // Bytes queued and not yet taken by the kernel.
  size_t outputLength() const {
    return out_end_ - out_start_ + (overflow_used_ ? evbuffer_get_length(overflow_.get()) : 0);
  }

  // Once a write failed (the peer reset or closed the connection), writes are dropped: the
  // failure is reported after what the peer sent before it has been read (see onWriteFailed).
  void write(std::string_view data) { write(data.data(), data.size()); }
  void write(const char* data, size_t len);
  bool writeFailed() const { return write_failed_; }
  // When a write fails, read what the peer sent before it went before reporting the error
  // (upstream connections: an early answer). Off: the error is reported at once (clients).
  void setReadOnWriteError(bool on) { read_on_write_error_ = on; }
  // Moves all of `source` into the output without copying the bytes.
  void writeBuffer(evbuffer* source);

  // Drops the first `len` bytes of the input (the owner has parsed them). Reading resumes if the
  // read watermark had stopped it.
  void consumeInput(size_t len);
  // Moves the whole input into `to`'s output (a tunnel), then resumes reading likewise.
  void moveInputTo(Connection& to);
  // Writes `len` bytes that lie in this connection's unconsumed input (a body span the owner is
  // parsing) to `to`'s output. When they run to the end of the input, are at least
  // kLendMinimum long and `to` has nothing queued behind its block, the input block itself goes
  // over, by reference: no copy. It returns to the pool once `to` has sent it, and this
  // connection reads on into a fresh block once the owner has consumed the span. Otherwise the
  // bytes are copied. Both connections must be on the same loop.
  void forwardInput(const char* data, size_t len, Connection& to);
  static constexpr size_t kLendMinimum = 2048;

  void enableRead();
  void disableRead();
  bool readEnabled() const { return read_enabled_; }
  // Read timeout: no byte read for that long while reading is enabled. Write timeout: queued
  // output made no progress for that long. 0 disables either. Both restart from now.
  void setTimeouts(std::chrono::milliseconds read, std::chrono::milliseconds write);
  // An absolute deadline of the owner's (the response header timeout): once it passes,
  // onEvent(kEventTimeout | kEventDeadline), once. Setting a later one or clearing it touches no
  // timer: the connection's one timer looks again when it fires.
  void setDeadline(MonotonicTime at);
  void clearDeadline() { deadline_ = kNoDeadline; }

  int fd() const { return fd_; }

  // True when the peer has closed or reset the connection, or sent bytes nobody asked for, as
  // the kernel knows it now (one recv with MSG_PEEK, not waiting for the event loop to see it):
  // for a pooled connection about to be reused after an idle spell.
  bool peerActiveNow() const;

  // Sends FIN and keeps reading (a lingering close: the peer reads our last response before
  // anything it still sends could turn our close into an RST that destroys it).
  void shutdownWrite();

  // More output follows shortly (a response head whose body is on its way): flushes pass
  // MSG_MORE, so the kernel sends head and body in one segment, until set back to false.
  void setMoreExpected(bool more) { more_expected_ = more; }

 private:
  // The flush scheduleFlush() queued: what callbacks wrote to this connection since.
  void runTurnTask() override;
  static void onSocketEventCb(evutil_socket_t fd, short what, void* ctx) noexcept;
  static void onTimerCb(evutil_socket_t fd, short what, void* ctx) noexcept;
  void onSocketEvent(short what);
  // Runs body(destroyed) as this connection's handler (a socket event or its turn task): writes
  // made meanwhile only set flush_wanted_, and go out in one flush at the end unless the body
  // returned false (the connection closed or cannot write yet).
  template <typename Body>
  void runHandler(Body&& body);
  void onTimer();
  // Each returns false when the connection was destroyed or closed by a callback it ran; the
  // caller must then return without touching the object.
  bool finishConnect(const bool& destroyed);
  bool advanceHandshake(const bool& destroyed);
  // One write of the output's first `nvec` buffers through TLS: bytes taken, and whether the
  // socket is full (false with `err` set on a failure before any byte).
  ssize_t flushTls(const evbuffer_iovec* vecs, int nvec, bool& blocked, int& err);
  bool flush(const bool& destroyed);
  bool onWriteFailed(int err, const bool& destroyed);
  bool readSocket(const bool& destroyed);
  bool notify(short what, int err, const bool& destroyed);

  static void returnLentBlock(const void* data, size_t len, void* pool);
  bool inputFull() const { return in_start_ == 0 && in_end_ == BufferPool::kBlockSize; }
  bool wantsRead() const {
    return fd_ >= 0 && read_enabled_ && !eof_ && !connecting_ && !inputFull() &&
           (!tls_ || tls_->established());
  }
  void releaseInputBlock();
  void takeBackInput();
  void releaseOutputBlock();
  void noteWriteStart() {
    if (write_timeout_.count() > 0 && outputLength() == 0) last_write_ = loop_.now();
  }
  void scheduleFlush();
  void scheduleRead();
  void armTimer();

  EventLoop& loop_;
  ConnectionCallbacks* callbacks_;
  int fd_;
  char* in_block_ = nullptr;    // from loop_.buffers(), while input is pending
  bool in_block_lent_ = false;  // forwardInput gave in_block_ to another connection's output
  size_t in_start_ = 0;
  size_t in_end_ = 0;
  char* out_block_ = nullptr;  // from loop_.buffers(), while output is pending
  size_t out_start_ = 0;
  size_t out_end_ = 0;
  EvBufferPtr overflow_;  // output after the block's: written only once the block's bytes are out
  bool overflow_used_ = false;  // overflow_ may hold bytes (spares a libevent call when it cannot)
  EventPtr event_;
  // A raw timer rather than a Timer: its callback may destroy this object, and a std::function
  // must not be destroyed while it runs.
  EventPtr timer_;  // created by the first non-zero setTimeouts()
  // Points at a flag on the stack of the callback running now; the destructor sets it, so the
  // callback learns that its connection is gone.
  bool* destroyed_flag_ = nullptr;

  std::chrono::milliseconds read_timeout_{0};
  std::chrono::milliseconds write_timeout_{0};
  MonotonicTime last_read_{};
  MonotonicTime last_write_{};
  MonotonicTime timer_deadline_{};
  bool timer_armed_ = false;  // timer_ is pending (libevent's event_pending costs a call)
  static constexpr MonotonicTime kNoDeadline = MonotonicTime::max();
  MonotonicTime deadline_ = kNoDeadline;

  bool connecting_;
  bool read_enabled_ = true;
  bool read_ready_ = false;   // the kernel may hold bytes (or the FIN) we have not read
  bool write_ready_ = false;  // the kernel has room: a write will not block
  bool peer_closed_ = false;  // EPOLLRDHUP seen: read to the end of stream
  bool eof_ = false;
  bool in_handler_ = false;  // onSocketEvent is running: it flushes before it returns
  bool flush_wanted_ = false;
  bool more_expected_ = false;
  bool read_on_write_error_ = false;
  bool write_failed_ = false;
  int write_err_ = 0;
  short scheduled_ = 0;  // EV_READ already passed to event_active this turn
  std::unique_ptr<TlsSession> tls_;
  bool close_notify_ = true;
  bool tls_wants_write_ = false;  // the handshake, or a read, waits for the socket to take bytes
  bool tls_write_wants_read_ = false;  // a write waits for bytes (a TLS 1.3 key update)
};

// Makes an accepted socket ready for Connection: non-blocking, TCP_NODELAY.
void prepareAcceptedSocket(int fd);

struct ConnectStart {
  int fd = -1;  // set when the connect is under way (kEventConnected or kEventError follows)
  int err = 0;  // set when connect() failed at once (e.g. ECONNREFUSED on loopback)
};
// Starts a non-blocking connect (TCP_NODELAY). An immediate failure is returned with its errno
// rather than reported later without one.
ConnectStart startConnect(const SocketAddress& address);

}  // namespace triaged::net
