#include "triaged/net/socket_address.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>

namespace triaged::net {

std::string SocketAddress::toString() const {
  std::array<char, INET6_ADDRSTRLEN> buf{};
  if (storage.ss_family == AF_INET6) {
    const auto* a = reinterpret_cast<const sockaddr_in6*>(&storage);
    inet_ntop(AF_INET6, &a->sin6_addr, buf.data(), buf.size());
    // Appended rather than "[" + ...: GCC 12 at -O3 warns (-Wrestrict, falsely) about the
    // operator+ that inserts at the front, which breaks -Werror Release builds.
    std::string out = "[";
    out += buf.data();
    out += "]:";
    out += std::to_string(ntohs(a->sin6_port));
    return out;
  }
  const auto* a = reinterpret_cast<const sockaddr_in*>(&storage);
  inet_ntop(AF_INET, &a->sin_addr, buf.data(), buf.size());
  return std::string(buf.data()) + ":" + std::to_string(ntohs(a->sin_port));
}

uint16_t SocketAddress::port() const {
  if (storage.ss_family == AF_INET6) {
    return ntohs(reinterpret_cast<const sockaddr_in6*>(&storage)->sin6_port);
  }
  return ntohs(reinterpret_cast<const sockaddr_in*>(&storage)->sin_port);
}

Result<SocketAddress> socketAddressFromLiteral(const config::HostPort& hp) {
  SocketAddress out;
  auto* v4 = reinterpret_cast<sockaddr_in*>(&out.storage);
  if (inet_pton(AF_INET, hp.host.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(hp.port);
    out.length = sizeof(sockaddr_in);
    return out;
  }
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&out.storage);
  if (inet_pton(AF_INET6, hp.host.c_str(), &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(hp.port);
    out.length = sizeof(sockaddr_in6);
    return out;
  }
  return Error{"not an IP address: " + hp.host};
}

SocketAddress socketAddressFrom(const sockaddr* sa, socklen_t len) {
  SocketAddress out;
  const auto n = std::min<size_t>(len, sizeof(out.storage));
  std::memcpy(&out.storage, sa, n);
  out.length = static_cast<socklen_t>(n);
  return out;
}

std::string ipString(const sockaddr* sa) {
  std::array<char, INET6_ADDRSTRLEN> buf{};
  if (sa->sa_family == AF_INET6) {
    inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6*>(sa)->sin6_addr, buf.data(),
              buf.size());
  } else if (sa->sa_family == AF_INET) {
    inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(sa)->sin_addr, buf.data(), buf.size());
  } else {
    return "unknown";
  }
  return buf.data();
}

std::string_view errnoName(int err) {
  switch (err) {
    case 0:
      return "";
    case ECONNREFUSED:
      return "ECONNREFUSED";
    case ECONNRESET:
      return "ECONNRESET";
    case ECONNABORTED:
      return "ECONNABORTED";
    case ETIMEDOUT:
      return "ETIMEDOUT";
    case EHOSTUNREACH:
      return "EHOSTUNREACH";
    case ENETUNREACH:
      return "ENETUNREACH";
    case ENETDOWN:
      return "ENETDOWN";
    case EPIPE:
      return "EPIPE";
    case EADDRNOTAVAIL:
      return "EADDRNOTAVAIL";
    case EADDRINUSE:
      return "EADDRINUSE";
    case EMFILE:
      return "EMFILE";
    case ENFILE:
      return "ENFILE";
    case ENOBUFS:
      return "ENOBUFS";
    case ENOMEM:
      return "ENOMEM";
    case EACCES:
      return "EACCES";
    case EPERM:
      return "EPERM";
    case EINVAL:
      return "EINVAL";
    case EAFNOSUPPORT:
      return "EAFNOSUPPORT";
    case EPROTO:
      return "EPROTO";
    default:
      return "EOTHER";
  }
}

Result<int> bindListener(const SocketAddress& address, bool reuse_port) {
  const int fd = socket(address.storage.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return Error{std::string("socket: ") + std::strerror(errno)};
  const int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  if (reuse_port && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) != 0) {
    const int err = errno;
    close(fd);
    return Error{std::string("SO_REUSEPORT: ") + std::strerror(err)};
  }
  if (address.storage.ss_family == AF_INET6) {
    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
  }
  if (bind(fd, address.get(), address.length) != 0) {
    const int err = errno;
    close(fd);
    return Error{"bind " + address.toString() + ": " + std::strerror(err)};
  }
  if (listen(fd, 1024) != 0) {
    const int err = errno;
    close(fd);
    return Error{"listen " + address.toString() + ": " + std::strerror(err)};
  }
  return fd;
}

Result<SocketAddress> localAddress(int fd) {
  SocketAddress out;
  out.length = sizeof(out.storage);
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&out.storage), &out.length) != 0) {
    return Error{std::string("getsockname: ") + std::strerror(errno)};
  }
  return out;
}

}  // namespace triaged::net
