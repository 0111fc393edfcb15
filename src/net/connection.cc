#include "triaged/net/connection.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>

#include "triaged/core/event_loop.h"

namespace triaged::net {
namespace {

timeval toTimeval(std::chrono::milliseconds ms) {
  timeval tv{};
  tv.tv_sec = static_cast<time_t>(ms.count() / 1000);
  tv.tv_usec = static_cast<suseconds_t>((ms.count() % 1000) * 1000);
  return tv;
}

constexpr int kBevOptions = BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS;

void setNoDelay(int fd) {
  const int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

}  // namespace

Connection::Connection(BufferEventPtr bev, ConnectionCallbacks* callbacks)
    : bev_(std::move(bev)), callbacks_(callbacks) {
  bufferevent_setcb(bev_.get(), &Connection::onRead, &Connection::onWrite, &Connection::onEventCb,
                    this);
}

void Connection::onRead(bufferevent*, void* ctx) noexcept {
  static_cast<Connection*>(ctx)->callbacks_->onReadable();
}

void Connection::onWrite(bufferevent*, void* ctx) noexcept {
  static_cast<Connection*>(ctx)->callbacks_->onWriteDrained();
}

void Connection::onEventCb(bufferevent*, short what, void* ctx) noexcept {
  // libevent restores the socket errno before running a deferred event callback.
  const int err = EVUTIL_SOCKET_ERROR();
  static_cast<Connection*>(ctx)->callbacks_->onEvent(what, (what & BEV_EVENT_ERROR) ? err : 0);
}

void Connection::write(std::string_view data) { write(data.data(), data.size()); }

void Connection::write(const char* data, size_t len) {
  if (bev_ && len > 0) bufferevent_write(bev_.get(), data, len);
}

void Connection::writeBuffer(evbuffer* source) {
  if (bev_) bufferevent_write_buffer(bev_.get(), source);
}

void Connection::enableRead() {
  if (bev_) bufferevent_enable(bev_.get(), EV_READ);
}

void Connection::disableRead() {
  if (bev_) bufferevent_disable(bev_.get(), EV_READ);
}

bool Connection::readEnabled() const {
  return bev_ && (bufferevent_get_enabled(bev_.get()) & EV_READ) != 0;
}

void Connection::setReadHighWatermark(size_t high) {
  bufferevent_setwatermark(bev_.get(), EV_READ, 0, high);
}

void Connection::setTimeouts(std::chrono::milliseconds read, std::chrono::milliseconds write) {
  const timeval r = toTimeval(read);
  const timeval w = toTimeval(write);
  bufferevent_set_timeouts(bev_.get(), read.count() > 0 ? &r : nullptr,
                           write.count() > 0 ? &w : nullptr);
}

int Connection::fd() const { return static_cast<int>(bufferevent_getfd(bev_.get())); }

BufferEventPtr adoptSocket(EventLoop& loop, int fd) {
  evutil_make_socket_nonblocking(fd);
  setNoDelay(fd);
  BufferEventPtr bev(bufferevent_socket_new(loop.base(), fd, kBevOptions));
  if (!bev) abort();
  bufferevent_enable(bev.get(), EV_READ | EV_WRITE);
  return bev;
}

ConnectStart startConnect(EventLoop& loop, const SocketAddress& address) {
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
  out.bev.reset(bufferevent_socket_new(loop.base(), fd, kBevOptions));
  if (!out.bev) abort();
  // A null address tells libevent the socket is already connecting: it waits for writability
  // and reports CONNECTED, or ERROR with the errno from SO_ERROR.
  if (bufferevent_socket_connect(out.bev.get(), nullptr, 0) != 0) {
    out.err = EVUTIL_SOCKET_ERROR();
    if (out.err == 0) out.err = EIO;
    out.bev.reset();
  }
  return out;
}

}  // namespace triaged::net
