#include "triaged/net/listener.h"

#include <event2/listener.h>
#include <unistd.h>

#include <cerrno>
#include <stdexcept>

namespace triaged::net {

Listener::Listener(EventLoop& loop, int fd, OnAccept on_accept, OnPause on_pause)
    : loop_(loop),
      on_accept_(std::move(on_accept)),
      on_pause_(std::move(on_pause)),
      retry_(loop, [this] {
        error_paused_ = false;
        updateEnabled();
      }) {
  listener_.reset(
      evconnlistener_new(loop.base(), &Listener::onAcceptCb, this,
                         LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE | LEV_OPT_CLOSE_ON_EXEC, 0, fd));
  if (!listener_) {
    ::close(fd);
    throw std::runtime_error("evconnlistener_new failed");
  }
  evconnlistener_set_error_cb(listener_.get(), &Listener::onErrorCb);
}

void Listener::onAcceptCb(evconnlistener*, evutil_socket_t fd, sockaddr* addr, int len,
                          void* ctx) noexcept {
  auto* self = static_cast<Listener*>(ctx);
  self->loop_.refreshNow();
  self->on_accept_(fd, addr, static_cast<socklen_t>(len));
}

void Listener::onErrorCb(evconnlistener*, void* ctx) noexcept {
  auto* self = static_cast<Listener*>(ctx);
  const int err = EVUTIL_SOCKET_ERROR();
  self->loop_.refreshNow();
  // Out of descriptors or memory: the connection stays in the backlog and the socket stays
  // readable, so trying again at once would spin. Wait, then try again.
  self->error_paused_ = true;
  self->updateEnabled();
  self->retry_.arm(kErrorPause);
  self->on_pause_(err);
}

void Listener::pauseForLimit() {
  if (limit_paused_) return;
  limit_paused_ = true;
  updateEnabled();
  on_pause_(0);
}

void Listener::resumeForLimit() {
  if (!limit_paused_) return;
  limit_paused_ = false;
  updateEnabled();
}

void Listener::updateEnabled() {
  if (limit_paused_ || error_paused_) {
    evconnlistener_disable(listener_.get());
  } else {
    evconnlistener_enable(listener_.get());
  }
}

}  // namespace triaged::net
