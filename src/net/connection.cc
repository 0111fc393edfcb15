#include "triaged/net/connection.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <optional>

namespace triaged::net {
namespace {

// Chains handed to one sendmsg; a longer output goes out in several.
constexpr int kMaxWriteVecs = 64;
// Reads per socket event before the connection yields to the others on the loop (it is
// rescheduled at once if the socket still has bytes): one fast peer cannot starve the rest.
constexpr int kReadsPerEvent = 4;

void setNoDelay(int fd) {
  const int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

EvBufferPtr newBuffer() {
  EvBufferPtr b(evbuffer_new());
  if (!b) abort();
  return b;
}

// evbuffer_iovec is declared to match struct iovec on every Unix (event2/buffer.h).
iovec* asIovec(evbuffer_iovec* v) { return reinterpret_cast<iovec*>(v); }

}  // namespace

Connection::Connection(EventLoop& loop, int fd, ConnectionCallbacks* callbacks, bool connecting)
    : loop_(loop), callbacks_(callbacks), fd_(fd), overflow_(newBuffer()), connecting_(connecting) {
  // Registered once for the connection's life. Whatever is readable or writable already is
  // reported as a first edge by epoll_ctl(ADD) itself, so nothing starts out "ready".
  event_.reset(event_new(loop.base(), fd, EV_READ | EV_WRITE | EV_ET | EV_PERSIST | EV_CLOSED,
                         &Connection::onSocketEventCb, this));
  if (!event_ || event_add(event_.get(), nullptr) != 0) abort();
}

Connection::~Connection() {
  if (destroyed_flag_ != nullptr) *destroyed_flag_ = true;
  close();
}

void Connection::startTls(std::unique_ptr<TlsSession> tls) { tls_ = std::move(tls); }

void Connection::close() {
  if (fd_ < 0) return;
  // libevent allows freeing an event inside its own callback: it does not touch it afterwards.
  event_.reset();
  timer_.reset();
  timer_armed_ = false;
  if (tls_) {
    if (close_notify_) tls_->shutdown();
    tls_.reset();
  }
  ::close(fd_);
  fd_ = -1;
  loop_.cancelTurnTask(*this);
  releaseInputBlock();
  releaseOutputBlock();
  evbuffer_drain(overflow_.get(), evbuffer_get_length(overflow_.get()));
  overflow_used_ = false;
  read_ready_ = false;
  write_ready_ = false;
}

// --- writing --------------------------------------------------------------------------------

void Connection::write(const char* data, size_t len) {
  if (fd_ < 0 || len == 0 || write_failed_) return;
  noteWriteStart();
  // Into the block while nothing waits in the overflow: its bytes must stay behind the block's.
  if (!overflow_used_ && BufferPool::kBlockSize - out_end_ >= len) {
    if (out_block_ == nullptr) out_block_ = loop_.buffers().take();
    std::memcpy(out_block_ + out_end_, data, len);
    out_end_ += len;
    scheduleFlush();
    return;
  }
  evbuffer_add(overflow_.get(), data, len);
  overflow_used_ = true;
  scheduleFlush();
}

void Connection::writeBuffer(evbuffer* source) {
  if (write_failed_) evbuffer_drain(source, evbuffer_get_length(source));
  if (fd_ < 0 || evbuffer_get_length(source) == 0) return;
  noteWriteStart();
  evbuffer_add_buffer(overflow_.get(), source);
  overflow_used_ = true;
  scheduleFlush();
}

void Connection::releaseOutputBlock() {
  loop_.buffers().give(out_block_);
  out_block_ = nullptr;
  out_start_ = 0;
  out_end_ = 0;
}

void Connection::scheduleFlush() {
  if (in_handler_) {
    flush_wanted_ = true;  // onSocketEvent flushes before it returns
    return;
  }
  // Not writable: the EPOLLOUT edge that follows a full kernel buffer will flush.
  if (!write_ready_) return;
  loop_.queueTurnTask(*this);
}

void Connection::runTurnTask() {
  if (fd_ < 0) return;
  runHandler([&](const bool& destroyed) {
    return !(write_ready_ && outputLength() > 0) || flush(destroyed);
  });
}

ssize_t Connection::flushTls(const evbuffer_iovec* vecs, int nvec, bool& blocked, int& err) {
  size_t total = 0;
  for (int i = 0; i < nvec; ++i) {
    const char* base = static_cast<const char*>(vecs[i].iov_base);
    size_t done = 0;
    while (done < vecs[i].iov_len) {
      size_t n = 0;
      // Each call writes whole records (partial-write mode returns after every record).
      const TlsSession::Status st = tls_->write(base + done, vecs[i].iov_len - done, n, err);
      if (st == TlsSession::Status::Ok) {
        done += n;
        total += n;
        continue;
      }
      if (st == TlsSession::Status::WantWrite || st == TlsSession::Status::WantRead) {
        blocked = true;
        tls_write_wants_read_ = st == TlsSession::Status::WantRead;
        return static_cast<ssize_t>(total);
      }
      // Failed: report the bytes that went; the next write meets the error again.
      return total > 0 ? static_cast<ssize_t>(total) : -1;
    }
  }
  return static_cast<ssize_t>(total);
}

bool Connection::flush(const bool& destroyed) {
  flush_wanted_ = false;
  if (tls_ && !tls_->established()) return true;  // sent once the handshake is done
  while (write_ready_ && outputLength() > 0) {
    evbuffer_iovec vecs[kMaxWriteVecs];
    int nvec = 0;
    const size_t in_block = out_end_ - out_start_;
    if (in_block > 0) vecs[nvec++] = evbuffer_iovec{out_block_ + out_start_, in_block};
    if (overflow_used_) {
      const int chains =
          evbuffer_peek(overflow_.get(), -1, nullptr, vecs + nvec, kMaxWriteVecs - nvec);
      nvec += std::min(chains, kMaxWriteVecs - nvec);
    }
    size_t offered = 0;
    for (int i = 0; i < nvec; ++i) offered += vecs[i].iov_len;
    const int flags = MSG_NOSIGNAL | MSG_DONTWAIT | (more_expected_ ? MSG_MORE : 0);
    ssize_t sent = 0;
    if (tls_) {
      bool blocked = false;
      int err = 0;
      sent = flushTls(vecs, nvec, blocked, err);
      if (sent < 0) {
        write_ready_ = false;
        return onWriteFailed(err, destroyed);
      }
      // Only a full socket stops the loop below (TLS writes return after every record).
      offered = static_cast<size_t>(sent) + (blocked ? 1 : 0);
    } else if (nvec == 1) {
      // The usual case (one block): send() skips sendmsg's msghdr copy and iovec import, which
      // showed in kernel profiles.
      sent = ::send(fd_, vecs[0].iov_base, vecs[0].iov_len, flags);
    } else {
      msghdr msg{};
      msg.msg_iov = asIovec(vecs);
      msg.msg_iovlen = static_cast<size_t>(nvec);
      sent = ::sendmsg(fd_, &msg, flags);
    }
    if (sent < 0) {
      const int err = errno;
      if (err == EINTR) continue;
      write_ready_ = false;
      if (err == EAGAIN || err == EWOULDBLOCK) return true;
      return onWriteFailed(err, destroyed);
    }
    // The block's bytes went first.
    const size_t from_block = std::min(static_cast<size_t>(sent), in_block);
    out_start_ += from_block;
    if (out_start_ == out_end_ && out_block_ != nullptr) releaseOutputBlock();
    if (overflow_used_) {
      evbuffer_drain(overflow_.get(), static_cast<size_t>(sent) - from_block);
      overflow_used_ = evbuffer_get_length(overflow_.get()) > 0;
    }
    if (write_timeout_.count() > 0) last_write_ = loop_.now();
    if (static_cast<size_t>(sent) < offered) {
      // The kernel buffer is full; the kernel wakes epoll (a new EPOLLOUT edge) once it has room.
      write_ready_ = false;
      return true;
    }
    if (outputLength() == 0) {
      callbacks_->onWriteDrained();
      if (destroyed || fd_ < 0) return false;
    }
  }
  return true;
}

bool Connection::onWriteFailed(int err, const bool& destroyed) {
  if (!read_on_write_error_)
    return notify(static_cast<short>(kEventError | kEventWriting), err, destroyed);
  // The peer is gone for writing (EPIPE, ECONNRESET), but what it sent before it went may still
  // wait in the receive buffer: an upstream that answers early (413, 401, or a 200) and closes
  // with the request body unread makes its kernel send RST, and the answer arrived before it.
  // Read that first; the error is reported once reading reaches the end (readSocket). What was
  // queued for writing can never be sent: it is dropped, and for the owner the output drained.
  write_failed_ = true;
  write_err_ = err;
  releaseOutputBlock();
  evbuffer_drain(overflow_.get(), evbuffer_get_length(overflow_.get()));
  overflow_used_ = false;
  more_expected_ = false;
  callbacks_->onWriteDrained();
  if (destroyed || fd_ < 0) return false;
  read_ready_ = true;
  // Already at the end of the input: nothing left to rescue. Otherwise the error waits for the
  // reads (now, or once the owner enables reading again).
  if (eof_) return notify(static_cast<short>(kEventError | kEventWriting), err, destroyed);
  return wantsRead() ? readSocket(destroyed) : true;
}

bool Connection::peerActiveNow() const {
  if (fd_ < 0 || eof_ || peer_closed_ || inputLength() > 0) return true;
  // A TLS peer's close_notify (or any record) waiting in OpenSSL or in the socket.
  if (tls_ && tls_->hasPending()) return true;
  char byte = 0;
  const ssize_t n = ::recv(fd_, &byte, 1, MSG_PEEK | MSG_DONTWAIT);
  if (n >= 0) return true;  // 0: FIN; 1: bytes
  return errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR;
}

void Connection::shutdownWrite() {
  if (fd_ < 0) return;
  if (tls_) tls_->shutdown();
  ::shutdown(fd_, SHUT_WR);
}

// --- reading --------------------------------------------------------------------------------

void Connection::releaseInputBlock() {
  // A lent block goes back to the pool from the output that holds it.
  if (!in_block_lent_) loop_.buffers().give(in_block_);
  in_block_lent_ = false;
  in_block_ = nullptr;
  in_start_ = 0;
  in_end_ = 0;
}

void Connection::takeBackInput() {
  // Bytes are left in front of or inside the lent span (forwardInput lends only the input's
  // tail, so the owner consumed less than it forwarded): they move to a block of our own, for
  // the lent one must not be read into or compacted any more.
  char* own = loop_.buffers().take();
  const size_t left = in_end_ - in_start_;
  std::memcpy(own, in_block_ + in_start_, left);
  in_block_ = own;
  in_block_lent_ = false;
  in_start_ = 0;
  in_end_ = left;
}

void Connection::consumeInput(size_t len) {
  in_start_ += std::min(len, inputLength());
  if (in_start_ == in_end_ && in_block_ != nullptr) releaseInputBlock();
  if (in_block_lent_) takeBackInput();
  if (read_ready_ && wantsRead()) scheduleRead();
}

void Connection::moveInputTo(Connection& to) {
  const std::string_view data = inputData();
  forwardInput(data.data(), data.size(), to);
  consumeInput(data.size());
}

void Connection::forwardInput(const char* data, size_t len, Connection& to) {
  // std::less_equal: `data` may point anywhere (a chunk header, another buffer), and only it
  // orders unrelated pointers.
  const bool input_tail = in_block_ != nullptr && !in_block_lent_ &&
                          std::less_equal<const char*>()(in_block_ + in_start_, data) &&
                          data + len == in_block_ + in_end_;
  // Lending costs an evbuffer chain and a second iovec: worth it only where it saves a real copy.
  // The block's bytes before `data` are referenced too and drained at once, which is only right
  // while `to`'s overflow is empty.
  if (!input_tail || len < kLendMinimum || to.fd_ < 0 || to.overflow_used_) {
    to.write(data, len);
    return;
  }
  const auto offset = static_cast<size_t>(data - in_block_);
  to.noteWriteStart();
  if (evbuffer_add_reference(to.overflow_.get(), in_block_, offset + len,
                             &Connection::returnLentBlock, &loop_.buffers()) != 0) {
    abort();  // out of memory
  }
  evbuffer_drain(to.overflow_.get(), offset);
  to.overflow_used_ = true;
  in_block_lent_ = true;
  to.scheduleFlush();
}

void Connection::returnLentBlock(const void* data, size_t, void* pool) {
  // evbuffer passes back the pointer it was given: the block's start.
  static_cast<BufferPool*>(pool)->give(static_cast<char*>(const_cast<void*>(data)));
}

void Connection::enableRead() {
  if (fd_ < 0) return;
  if (!read_enabled_) {
    read_enabled_ = true;
    // As with bufferevents, the read timeout starts over when reading is enabled again.
    if (read_timeout_.count() > 0) {
      last_read_ = loop_.now();
      armTimer();
    }
  }
  if (read_ready_ && wantsRead()) scheduleRead();
}

void Connection::disableRead() { read_enabled_ = false; }

void Connection::scheduleRead() {
  if ((scheduled_ & EV_READ) != 0) return;
  scheduled_ = static_cast<short>(scheduled_ | EV_READ);
  event_active(event_.get(), EV_READ, 0);
}

bool Connection::readSocket(const bool& destroyed) {
  constexpr size_t kBlock = BufferPool::kBlockSize;
  size_t got = 0;
  bool eof = false;
  int err = 0;
  int reads = 0;
  while (wantsRead()) {
    if (reads++ == kReadsPerEvent) {
      scheduleRead();  // more may be waiting: after the other connections' turn
      break;
    }
    if (in_block_lent_) takeBackInput();
    if (in_block_ == nullptr) {
      in_block_ = loop_.buffers().take();
    } else if (in_start_ > 0 && kBlock - in_end_ < kBlock / 4) {
      // Little room left behind unconsumed bytes: move them to the front.
      std::memmove(in_block_, in_block_ + in_start_, in_end_ - in_start_);
      in_end_ -= in_start_;
      in_start_ = 0;
    }
    const size_t room = kBlock - in_end_;
    if (tls_) {
      // TLS: a short SSL_read says nothing about the socket (one record at a time). What does is
      // OpenSSL's own last read from it: short, with nothing buffered, means the socket is empty
      // and the next bytes bring a new edge (a queued FIN aside, as below). Otherwise read on
      // until OpenSSL says it needs the socket.
      size_t n = 0;
      int tls_err = 0;
      const auto st = tls_->read(in_block_ + in_end_, room, n, tls_err);
      if (st == TlsSession::Status::Ok) {
        in_end_ += n;
        got += n;
        if (tls_->socketDrained() && !peer_closed_ && !tls_->hasPending()) {
          read_ready_ = false;
          break;
        }
        continue;
      }
      read_ready_ = false;
      tls_wants_write_ = st == TlsSession::Status::WantWrite;
      if (st == TlsSession::Status::Eof) eof = true;
      if (st == TlsSession::Status::Failed) err = tls_err;
      break;
    }
    // recv() rather than read(): read goes through the VFS layer (file position lock, iterator
    // setup) before it reaches the socket.
    const ssize_t n = ::recv(fd_, in_block_ + in_end_, room, MSG_DONTWAIT);
    if (n > 0) {
      in_end_ += static_cast<size_t>(n);
      got += static_cast<size_t>(n);
      // A short read emptied the socket: the next bytes bring a new edge. Unless a FIN is
      // queued behind them (EPOLLRDHUP), which brings no edge of its own: read on to it.
      if (static_cast<size_t>(n) < room && !peer_closed_) {
        read_ready_ = false;
        break;
      }
      continue;
    }
    if (n == 0) {
      eof = true;
      read_ready_ = false;
      break;
    }
    if (errno == EINTR) continue;
    read_ready_ = false;
    if (errno != EAGAIN && errno != EWOULDBLOCK) err = errno;
    break;
  }
  if (in_block_ != nullptr && in_start_ == in_end_) releaseInputBlock();
  if (got > 0) {
    if (read_timeout_.count() > 0) last_read_ = loop_.now();
    callbacks_->onReadable();
    if (destroyed || fd_ < 0) return false;
  }
  if (write_failed_ && (eof || err != 0)) {
    // The read side ended too: now the failure a write met is the news (the RST, not the FIN
    // that the reset socket reads as).
    eof_ = true;
    return notify(static_cast<short>(kEventError | kEventWriting), write_err_, destroyed);
  }
  if (eof) {
    eof_ = true;
    return notify(static_cast<short>(kEventEof | kEventReading), 0, destroyed);
  }
  if (err != 0) return notify(static_cast<short>(kEventError | kEventReading), err, destroyed);
  return true;
}

// --- events ---------------------------------------------------------------------------------

void Connection::onSocketEventCb(evutil_socket_t, short what, void* ctx) noexcept {
  static_cast<Connection*>(ctx)->onSocketEvent(what);
}

void Connection::onSocketEvent(short what) {
  loop_.refreshNow();
  scheduled_ = 0;  // this call consumes every event_active() made since the last one
  runHandler([&](const bool& destroyed) {
    if (connecting_) {
      if ((what & EV_WRITE) == 0 || !finishConnect(destroyed)) return false;
    }
    if ((what & EV_WRITE) != 0) write_ready_ = true;
    if ((what & EV_CLOSED) != 0) peer_closed_ = true;
    if ((what & (EV_READ | EV_CLOSED)) != 0) read_ready_ = true;
    if (tls_) {
      // OpenSSL may need the other direction than the one its caller asked for.
      if (tls_wants_write_ && (what & EV_WRITE) != 0) read_ready_ = true;
      if (tls_write_wants_read_ && (what & (EV_READ | EV_CLOSED)) != 0) write_ready_ = true;
      if (!tls_->established()) {
        if (!advanceHandshake(destroyed)) return false;
        if (!tls_->established()) return false;
      }
    }
    if (write_ready_ && outputLength() > 0 && !flush(destroyed)) return false;
    return !(read_ready_ && wantsRead()) || readSocket(destroyed);
  });
}

template <typename Body>
void Connection::runHandler(Body&& body) {
  bool destroyed = false;
  destroyed_flag_ = &destroyed;
  in_handler_ = true;
  // What the body's callbacks queued on this connection goes out at its end, in one write.
  if (body(static_cast<const bool&>(destroyed)) &&
      (!(flush_wanted_ && write_ready_ && outputLength() > 0) || flush(destroyed))) {
    flush_wanted_ = false;
  }
  if (!destroyed) {
    destroyed_flag_ = nullptr;
    in_handler_ = false;
  }
}

bool Connection::finishConnect(const bool& destroyed) {
  int err = 0;
  socklen_t len = sizeof(err);
  if (getsockopt(fd_, SOL_SOCKET, SO_ERROR, &err, &len) != 0) err = errno;
  connecting_ = false;
  if (err != 0) {
    // The connection is dead: this is the last thing its owner hears of it, not also the EOF
    // a read of the hung-up socket would find.
    eof_ = true;
    notify(static_cast<short>(kEventError | kEventWriting), err, destroyed);
    return false;
  }
  return notify(kEventConnected, 0, destroyed);
}

bool Connection::advanceHandshake(const bool& destroyed) {
  if (!(tls_wants_write_ ? write_ready_ : read_ready_ || write_ready_)) return true;
  const TlsSession::Status st = tls_->handshake();
  tls_wants_write_ = st == TlsSession::Status::WantWrite;
  switch (st) {
    case TlsSession::Status::Ok:
      // Application data may have come with the last handshake flight and sit in OpenSSL's
      // read-ahead buffer already: no edge will announce it.
      read_ready_ = true;
      if (read_timeout_.count() > 0) last_read_ = loop_.now();
      return notify(kEventTlsEstablished, 0, destroyed);
    case TlsSession::Status::WantRead:
      read_ready_ = false;
      return true;
    case TlsSession::Status::WantWrite:
      write_ready_ = false;
      return true;
    case TlsSession::Status::Eof:
    case TlsSession::Status::Failed:
      break;
  }
  // The connection is dead: the failure is the last thing its owner hears of it.
  eof_ = true;
  notify(static_cast<short>(kEventError | kEventTls), 0, destroyed);
  return false;
}

bool Connection::notify(short what, int err, const bool& destroyed) {
  callbacks_->onEvent(what, err);
  return !destroyed && fd_ >= 0;
}

// --- timeouts -------------------------------------------------------------------------------

void Connection::setTimeouts(std::chrono::milliseconds read, std::chrono::milliseconds write) {
  read_timeout_ = read;
  write_timeout_ = write;
  if (fd_ < 0 || (read.count() == 0 && write.count() == 0)) return;  // a pending check finds none
  const auto now = loop_.now();
  last_read_ = now;
  last_write_ = now;
  armTimer();
}

void Connection::setDeadline(MonotonicTime at) {
  deadline_ = at;
  armTimer();
}

void Connection::armTimer() {
  if (fd_ < 0) return;
  const auto now = loop_.now();
  std::optional<MonotonicTime> deadline;
  const auto earliest = [&](MonotonicTime t) {
    if (!deadline || t < *deadline) deadline = t;
  };
  if (deadline_ != kNoDeadline) earliest(deadline_);
  if (read_timeout_.count() > 0) earliest((wantsRead() ? last_read_ : now) + read_timeout_);
  if (write_timeout_.count() > 0) {
    earliest((outputLength() > 0 ? last_write_ : now) + write_timeout_);
  }
  if (!deadline) return;
  if (!timer_) {
    timer_.reset(evtimer_new(loop_.base(), &Connection::onTimerCb, this));
    if (!timer_) abort();
  } else if (timer_armed_ && timer_deadline_ <= *deadline) {
    return;  // fires first anyway, then checks again
  }
  const auto wait = std::max(std::chrono::duration_cast<std::chrono::microseconds>(*deadline - now),
                             std::chrono::microseconds(0));
  timeval tv{};
  tv.tv_sec = static_cast<time_t>(wait.count() / 1000000);
  tv.tv_usec = static_cast<suseconds_t>(wait.count() % 1000000);
  timer_deadline_ = *deadline;
  timer_armed_ = true;
  evtimer_add(timer_.get(), &tv);
}

void Connection::onTimerCb(evutil_socket_t, short, void* ctx) noexcept {
  static_cast<Connection*>(ctx)->onTimer();
}

void Connection::onTimer() {
  timer_armed_ = false;
  if (fd_ < 0) return;
  const auto now = loop_.refreshNow();
  short expired = 0;
  if (deadline_ != kNoDeadline && now >= deadline_) {
    expired = kEventDeadline;
    deadline_ = kNoDeadline;
  } else if (read_timeout_.count() > 0 && wantsRead() && now - last_read_ >= read_timeout_) {
    expired = kEventReading;
    read_enabled_ = false;  // as a bufferevent does: reading stops until enabled again
  } else if (write_timeout_.count() > 0 && outputLength() > 0 &&
             now - last_write_ >= write_timeout_) {
    expired = kEventWriting;
  }
  if (expired == 0) {
    armTimer();  // activity since it was armed: wait for the rest
    return;
  }
  bool destroyed = false;
  destroyed_flag_ = &destroyed;
  if (notify(static_cast<short>(kEventTimeout | expired), 0, destroyed)) armTimer();
  if (!destroyed) destroyed_flag_ = nullptr;
}

// --- sockets --------------------------------------------------------------------------------

void prepareAcceptedSocket(int fd) {
  // evconnlistener accepts with SOCK_NONBLOCK | SOCK_CLOEXEC already.
  setNoDelay(fd);
}

ConnectStart startConnect(const SocketAddress& address) {
  ConnectStart out;
  const int fd = socket(address.storage.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    out.err = errno;
    return out;
  }
  setNoDelay(fd);
  if (connect(fd, address.get(), address.length) != 0 && errno != EINPROGRESS) {
    out.err = errno;
    ::close(fd);
    return out;
  }
  out.fd = fd;
  return out;
}

}  // namespace triaged::net
