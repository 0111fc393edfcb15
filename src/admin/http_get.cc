#include "triaged/admin/http_get.h"

#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "triaged/http/message_parser.h"

namespace triaged::admin {
namespace {

using Clock = std::chrono::steady_clock;

constexpr uint64_t kMaxHeadBytes = 64 * 1024;

bool startsWith(std::string_view s, std::string_view prefix) {
  return s.substr(0, prefix.size()) == prefix;
}

std::optional<std::string> parsePort(std::string_view port) {
  if (port.empty() || port.size() > 5) return std::nullopt;
  unsigned value = 0;
  for (const char c : port) {
    if (c < '0' || c > '9') return std::nullopt;
    value = value * 10 + static_cast<unsigned>(c - '0');
  }
  if (value == 0 || value > 65535) return std::nullopt;
  return std::to_string(value);
}

// "HOST:PORT" / "[V6]:PORT" / "HOST" (when `default_port` is set).
std::optional<HttpEndpoint> parseAuthority(std::string_view text,
                                           std::optional<std::string_view> default_port) {
  std::string_view host = text;
  std::string_view port;
  if (!text.empty() && text.front() == '[') {
    const size_t close = text.find(']');
    if (close == std::string_view::npos || close < 2) return std::nullopt;
    host = text.substr(1, close - 1);
    const std::string_view rest = text.substr(close + 1);
    if (rest.empty() && default_port) {
      port = *default_port;
    } else if (rest.size() > 1 && rest.front() == ':') {
      port = rest.substr(1);
    } else {
      return std::nullopt;
    }
  } else {
    const size_t colon = text.rfind(':');
    if (colon == std::string_view::npos) {
      if (!default_port) return std::nullopt;
      port = *default_port;
    } else {
      host = text.substr(0, colon);
      port = text.substr(colon + 1);
    }
    // An IPv6 literal needs brackets, or the port is ambiguous.
    if (host.find(':') != std::string_view::npos) return std::nullopt;
  }
  if (host.empty()) return std::nullopt;
  const auto p = parsePort(port);
  if (!p) return std::nullopt;
  HttpEndpoint out;
  out.host = std::string(host);
  out.port = *p;
  const bool v6 = out.host.find(':') != std::string::npos;
  out.authority = (v6 ? "[" + out.host + "]" : out.host) + ":" + out.port;
  return out;
}

int remainingMs(Clock::time_point deadline) {
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
  return left.count() > 0 ? static_cast<int>(left.count()) : 0;
}

// Waits for `events` on `fd`: 0 when ready, otherwise the errno to report (ETIMEDOUT when the
// deadline passed).
int waitFor(int fd, short events, Clock::time_point deadline) {
  for (;;) {
    pollfd p{fd, events, 0};
    const int n = ::poll(&p, 1, remainingMs(deadline));
    if (n > 0) return 0;
    if (n == 0) return ETIMEDOUT;
    if (errno != EINTR) return errno;
  }
}

// Closes the socket on every return path.
class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

// A connected non-blocking socket, or why there is none.
struct Connected {
  int fd = -1;
  std::string problem;
};

Connected connectTo(const HttpEndpoint& where, Clock::time_point deadline) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICSERV;
  addrinfo* list = nullptr;
  Connected result;
  const int rc = ::getaddrinfo(where.host.c_str(), where.port.c_str(), &hints, &list);
  if (rc != 0) {
    result.problem = rc == EAI_SYSTEM ? std::strerror(errno) : ::gai_strerror(rc);
    return result;
  }
  int last_error = ECONNREFUSED;
  for (addrinfo* ai = list; ai != nullptr; ai = ai->ai_next) {
    const int fd =
        ::socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
    if (fd < 0) {
      last_error = errno;
      continue;
    }
    int err = 0;
    if (::connect(fd, ai->ai_addr, ai->ai_addrlen) != 0) {
      err = errno;
      if (err == EINPROGRESS) {
        err = waitFor(fd, POLLOUT, deadline);
        if (err == 0) {
          socklen_t len = sizeof err;
          if (::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0) err = errno;
        }
      }
    }
    if (err == 0) {
      result.fd = fd;
      break;
    }
    ::close(fd);
    last_error = err;
    if (err == ETIMEDOUT) break;  // the deadline is shared: no time left for another address
  }
  ::freeaddrinfo(list);
  if (result.fd < 0) result.problem = std::strerror(last_error);
  return result;
}

// Collects one final response from the parser's callbacks (interim 1xx heads are skipped).
class Collector final : public http::ParserCallbacks {
 public:
  Collector(HttpReply& reply, size_t max_body) : reply_(reply), max_body_(max_body) {}

  void onHead() override {}  // read from the parser once the message is complete
  void onBody(const char* data, size_t len) override {
    if (reply_.body.size() + len > max_body_) {
      too_large_ = true;
      return;
    }
    reply_.body.append(data, len);
  }
  void onMessageComplete(const http::Headers&) override {}
  bool tooLarge() const { return too_large_; }

 private:
  HttpReply& reply_;
  size_t max_body_;
  bool too_large_ = false;
};

void copyHead(const http::ResponseHead& head, HttpReply& reply) {
  reply.status = head.status;
  reply.reason = std::string(head.reason);
  reply.headers.clear();
  for (const auto& h : head.headers) reply.headers.emplace_back(h.name, h.value);
}

std::string timeoutText(std::chrono::milliseconds timeout) {
  const auto ms = timeout.count();
  return ms % 1000 == 0 ? std::to_string(ms / 1000) + " s" : std::to_string(ms) + " ms";
}

}  // namespace

std::optional<HttpEndpoint> parseHttpEndpoint(std::string_view text) {
  if (startsWith(text, "https://")) return std::nullopt;
  if (!startsWith(text, "http://")) {
    if (text.find('/') != std::string_view::npos) return std::nullopt;
    return parseAuthority(text, std::nullopt);
  }
  text.remove_prefix(7);
  const size_t slash = text.find('/');
  auto out = parseAuthority(text.substr(0, slash), std::string_view("80"));
  if (!out) return std::nullopt;
  if (slash != std::string_view::npos) {
    std::string_view path = text.substr(slash);
    if (path.find_first_of("?#") != std::string_view::npos) return std::nullopt;
    while (!path.empty() && path.back() == '/') path.remove_suffix(1);
    out->base_path = std::string(path);
  }
  return out;
}

HttpGetResult httpGet(const HttpEndpoint& where, std::string_view path_and_query,
                      const HttpGetOptions& options) {
  const Clock::time_point deadline = Clock::now() + options.timeout;
  HttpGetResult result;
  const Connected conn = connectTo(where, deadline);
  if (conn.fd < 0) {
    result.unreachable = true;
    result.problem = conn.problem;
    return result;
  }
  const Fd fd(conn.fd);

  std::string request = "GET " + where.base_path + std::string(path_and_query) +
                        " HTTP/1.1\r\nHost: " + where.authority +
                        "\r\nUser-Agent: " + options.user_agent + "\r\nConnection: close\r\n";
  for (const auto& [name, value] : options.headers) request += name + ": " + value + "\r\n";
  request += "\r\n";

  const std::string no_answer = "no complete response within " + timeoutText(options.timeout);
  size_t sent = 0;
  while (sent < request.size()) {
    const ssize_t n = ::send(fd.get(), request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
    if (n >= 0) {
      sent += static_cast<size_t>(n);
      continue;
    }
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
      if (const int err = waitFor(fd.get(), POLLOUT, deadline); err != 0) {
        result.problem = err == ETIMEDOUT ? no_answer : std::strerror(err);
        return result;
      }
      continue;
    }
    result.problem = std::string("sending the request failed: ") + std::strerror(errno);
    return result;
  }

  HttpReply reply;
  Collector collector(reply, options.max_body_bytes);
  http::MessageParser parser(http::MessageParser::Type::Response, collector, kMaxHeadBytes);
  using S = http::MessageParser::Status;
  std::string pending;  // bytes read and not yet consumed by the parser
  char buf[16384];
  for (;;) {
    // Feed what is buffered; an interim (1xx) response is skipped, the final one ends the loop.
    while (!pending.empty()) {
      const auto r = parser.feed(pending.data(), pending.size());
      pending.erase(0, r.consumed);
      if (r.status == S::Error) {
        result.problem = "malformed HTTP response: " + parser.error().reason;
        return result;
      }
      if (r.status == S::MessageComplete || r.status == S::Upgrade) {
        if (parser.response().isInterim()) {
          parser.resume();
          continue;
        }
        copyHead(parser.response(), reply);
        if (collector.tooLarge()) {
          result.problem = "response body larger than " +
                           std::to_string(options.max_body_bytes / (1024 * 1024)) + " MiB";
          return result;
        }
        result.reply = std::move(reply);
        return result;
      }
      if (r.consumed == 0) break;
    }
    if (collector.tooLarge()) {
      result.problem = "response body larger than " +
                       std::to_string(options.max_body_bytes / (1024 * 1024)) + " MiB";
      return result;
    }
    const ssize_t n = ::recv(fd.get(), buf, sizeof buf, 0);
    if (n > 0) {
      pending.append(buf, static_cast<size_t>(n));
      continue;
    }
    if (n == 0) {
      // End of stream completes a close-delimited body; anything else arrived cut short.
      if (parser.finish() == S::MessageComplete && !parser.response().isInterim()) {
        copyHead(parser.response(), reply);
        result.reply = std::move(reply);
        return result;
      }
      result.problem = parser.headComplete()
                           ? "connection closed before the response body was complete"
                           : "connection closed before a complete response header";
      return result;
    }
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
      if (const int err = waitFor(fd.get(), POLLIN, deadline); err != 0) {
        result.problem = err == ETIMEDOUT ? no_answer : std::strerror(err);
        return result;
      }
      continue;
    }
    result.problem = std::string("reading the response failed: ") + std::strerror(errno);
    return result;
  }
}

std::string urlEncode(std::string_view text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(text.size());
  for (const char ch : text) {
    const auto c = static_cast<unsigned char>(ch);
    const bool unreserved = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                            (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' || c == '~';
    if (unreserved) {
      out.push_back(ch);
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 0xf]);
    }
  }
  return out;
}

}  // namespace triaged::admin
