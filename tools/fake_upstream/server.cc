#include "server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "connection.h"

namespace fake_upstream {
namespace {

void acceptTrampoline(evconnlistener* /*listener*/, evutil_socket_t fd, sockaddr* /*addr*/,
                      int /*len*/, void* ctx) noexcept {
  static_cast<Server*>(ctx)->onAccept(fd);
}

void tickTrampoline(evutil_socket_t /*fd*/, short /*what*/, void* ctx) noexcept {
  static_cast<Server*>(ctx)->onTick();
}

// evutil_parse_sockaddr_port() refuses port 0, which is the one port tests use.
bool parseAddress(const std::string& text, sockaddr_storage& out, int& len) {
  std::string host;
  std::string port;
  if (!text.empty() && text.front() == '[') {
    auto close = text.find("]:");
    if (close == std::string::npos) return false;
    host = text.substr(1, close - 1);
    port = text.substr(close + 2);
  } else {
    auto colon = text.rfind(':');
    if (colon == std::string::npos) return false;
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
  }
  char* end = nullptr;
  long p = strtol(port.c_str(), &end, 10);
  if (port.empty() || *end != '\0' || p < 0 || p > 65535) return false;
  out = sockaddr_storage{};
  auto* a6 = reinterpret_cast<sockaddr_in6*>(&out);
  auto* a4 = reinterpret_cast<sockaddr_in*>(&out);
  if (inet_pton(AF_INET6, host.c_str(), &a6->sin6_addr) == 1) {
    a6->sin6_family = AF_INET6;
    a6->sin6_port = htons(static_cast<uint16_t>(p));
    len = sizeof(sockaddr_in6);
    return true;
  }
  if (inet_pton(AF_INET, host.c_str(), &a4->sin_addr) == 1) {
    a4->sin_family = AF_INET;
    a4->sin_port = htons(static_cast<uint16_t>(p));
    len = sizeof(sockaddr_in);
    return true;
  }
  return false;
}

}  // namespace

Server::Server(event_base* base, std::chrono::milliseconds keepalive_timeout)
    : base_(base),
      keepalive_timeout_(keepalive_timeout),
      tick_(event_new(base, -1, 0, tickTrampoline, this)) {
  if (!tick_) abort();
}

Server::~Server() {
  listener_.reset();
  graveyard_.clear();
  connections_.clear();
}

bool Server::listen(const std::string& address, std::string& bound, std::string& error) {
  sockaddr_storage ss{};
  int len = 0;
  if (!parseAddress(address, ss, len)) {
    error = "cannot parse listen address '" + address + "' (want 127.0.0.1:PORT or [::1]:PORT)";
    return false;
  }
  listener_.reset(
      evconnlistener_new_bind(base_, acceptTrampoline, this,
                              LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE | LEV_OPT_CLOSE_ON_EXEC,
                              1024, reinterpret_cast<sockaddr*>(&ss), len));
  if (!listener_) {
    error = "cannot listen on " + address + ": " + strerror(errno);
    return false;
  }
  sockaddr_storage actual{};
  socklen_t actual_len = sizeof actual;
  getsockname(evconnlistener_get_fd(listener_.get()), reinterpret_cast<sockaddr*>(&actual),
              &actual_len);
  char host[INET6_ADDRSTRLEN] = {};
  if (actual.ss_family == AF_INET6) {
    const auto* a6 = reinterpret_cast<const sockaddr_in6*>(&actual);
    inet_ntop(AF_INET6, &a6->sin6_addr, host, sizeof host);
    bound = std::string("[") + host + "]:" + std::to_string(ntohs(a6->sin6_port));
  } else {
    const auto* a4 = reinterpret_cast<const sockaddr_in*>(&actual);
    inet_ntop(AF_INET, &a4->sin_addr, host, sizeof host);
    bound = std::string(host) + ":" + std::to_string(ntohs(a4->sin_port));
  }
  return true;
}

void Server::onAccept(evutil_socket_t fd) {
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  evutil_make_socket_nonblocking(fd);
  evutil_make_socket_closeonexec(fd);
  auto conn = std::make_unique<Connection>(*this, base_, fd);
  Connection* raw = conn.get();
  connections_.emplace(raw, std::move(conn));
  ++stats_.connections;
  ++stats_.open;
  statsChanged();
  raw->start();
}

void Server::countRequest() {
  ++stats_.requests;
  statsChanged();
}

void Server::markControl() {
  --stats_.connections;
  --stats_.open;
  statsChanged();
}

void Server::addStatsWaiter(Connection* c) { stats_waiters_.insert(c); }
void Server::removeStatsWaiter(Connection* c) { stats_waiters_.erase(c); }

void Server::release(Connection* c, bool control) {
  stats_waiters_.erase(c);
  auto it = connections_.find(c);
  if (it == connections_.end()) return;
  graveyard_.push_back(std::move(it->second));
  connections_.erase(it);
  if (!control) {
    --stats_.open;
    statsChanged();
  }
  scheduleTick();
}

void Server::statsChanged() {
  if (stats_waiters_.empty()) return;
  stats_dirty_ = true;
  scheduleTick();
}

void Server::scheduleTick() { event_active(tick_.get(), EV_TIMEOUT, 0); }

// Runs on the loop turn after a change: deletes released connections and answers /__stats
// long-polls, both outside of any connection's own callback.
void Server::onTick() {
  graveyard_.clear();
  if (!stats_dirty_) return;
  stats_dirty_ = false;
  std::vector<Connection*> waiters(stats_waiters_.begin(), stats_waiters_.end());
  for (Connection* c : waiters) {
    if (stats_waiters_.count(c) != 0) c->onStatsChanged();
  }
}

}  // namespace fake_upstream
