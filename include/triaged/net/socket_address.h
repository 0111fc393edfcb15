#pragma once

// Socket addresses and errno names. Plain helpers over the BSD socket API.

#include <sys/socket.h>

#include <string>
#include <string_view>

#include "triaged/config/config.h"
#include "triaged/core/result.h"

namespace triaged::net {

struct SocketAddress {
  sockaddr_storage storage{};
  socklen_t length = 0;

  const sockaddr* get() const { return reinterpret_cast<const sockaddr*>(&storage); }
  // "127.0.0.1:8080" or "[::1]:8080"
  std::string toString() const;
  uint16_t port() const;
};

// For IP literals only (names go through the Resolver).
Result<SocketAddress> socketAddressFromLiteral(const config::HostPort& hp);
SocketAddress socketAddressFrom(const sockaddr* sa, socklen_t len);
// The IP part only, for X-Forwarded-For: "127.0.0.1" or "::1".
std::string ipString(const sockaddr* sa);

// "ECONNREFUSED" for 111; "E<number>" for unknown values; "" for 0.
std::string_view errnoName(int err);

// A non-blocking, close-on-exec listening socket with SO_REUSEADDR (and SO_REUSEPORT when
// `reuse_port`), bound and listening. Returns the fd.
Result<int> bindListener(const SocketAddress& address, bool reuse_port);
// The address a socket is bound to (to learn the port chosen for port 0).
Result<SocketAddress> localAddress(int fd);

}  // namespace triaged::net
