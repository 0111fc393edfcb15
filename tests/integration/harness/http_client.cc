#include "harness/http_client.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <stdexcept>

namespace triaged::test {
namespace {

using Clock = std::chrono::steady_clock;

constexpr std::string_view kPattern =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
constexpr size_t kStreamPiece = 64 * 1024;
constexpr size_t kMaxHeadBytes = 4 * 1024 * 1024;  // far above anything the fake can send

int remainingMs(Clock::time_point deadline) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
  // Round up so a sub-millisecond remainder still polls once instead of spinning.
  return left.count() <= 0 ? 0 : static_cast<int>(left.count()) + 1;
}

char lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

const std::array<char, kStreamPiece>& streamPiece() {
  static const std::array<char, kStreamPiece> piece = [] {
    std::array<char, kStreamPiece> p{};
    for (size_t i = 0; i < p.size(); ++i) p[i] = kPattern[i % kPattern.size()];
    return p;
  }();
  return piece;
}

bool isChunked(const Headers& headers) {
  auto te = findHeader(headers, "Transfer-Encoding");
  if (!te) return false;
  std::string_view v = *te;
  auto comma = v.rfind(',');
  std::string_view last = trim(comma == std::string_view::npos ? v : v.substr(comma + 1));
  return equalsIgnoreCase(last, "chunked");
}

void parseHeaderLine(std::string_view line, Headers& out, bool& malformed) {
  auto colon = line.find(':');
  if (colon == std::string_view::npos || colon == 0) {
    malformed = true;
    return;
  }
  out.emplace_back(std::string(line.substr(0, colon)), std::string(trim(line.substr(colon + 1))));
}

}  // namespace

bool equalsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (lower(a[i]) != lower(b[i])) return false;
  }
  return true;
}

std::optional<std::string> findHeader(const Headers& headers, std::string_view name) {
  for (const auto& [n, v] : headers) {
    if (equalsIgnoreCase(n, name)) return v;
  }
  return std::nullopt;
}

std::optional<std::string> Response::header(std::string_view name) const {
  return findHeader(headers, name);
}

// ---- connection -------------------------------------------------------------------------------

HttpClient::HttpClient(uint16_t port, std::string host, std::chrono::milliseconds connect_timeout)
    : port_(port), host_(std::move(host)) {
  sockaddr_storage ss{};
  socklen_t len = 0;
  auto* a4 = reinterpret_cast<sockaddr_in*>(&ss);
  auto* a6 = reinterpret_cast<sockaddr_in6*>(&ss);
  if (inet_pton(AF_INET, host_.c_str(), &a4->sin_addr) == 1) {
    a4->sin_family = AF_INET;
    a4->sin_port = htons(port);
    len = sizeof(sockaddr_in);
  } else if (inet_pton(AF_INET6, host_.c_str(), &a6->sin6_addr) == 1) {
    a6->sin6_family = AF_INET6;
    a6->sin6_port = htons(port);
    len = sizeof(sockaddr_in6);
  } else {
    throw std::runtime_error("HttpClient: not an IP literal: " + host_);
  }
  fd_ = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd_ < 0) throw std::runtime_error(std::string("socket: ") + strerror(errno));
  int one = 1;
  setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  auto deadline = Clock::now() + connect_timeout;
  int rc = connect(fd_, reinterpret_cast<sockaddr*>(&ss), len);
  int err = rc == 0 ? 0 : errno;
  if (err == EINPROGRESS) {
    pollfd p{fd_, POLLOUT, 0};
    int r;
    do {
      r = poll(&p, 1, remainingMs(deadline));
    } while (r < 0 && errno == EINTR);
    if (r == 0) {
      err = ETIMEDOUT;
    } else {
      socklen_t elen = sizeof err;
      getsockopt(fd_, SOL_SOCKET, SO_ERROR, &err, &elen);
    }
  }
  if (err != 0) {
    ::close(fd_);
    fd_ = -1;
    throw std::runtime_error("HttpClient: connect to " + hostHeader() + ": " + strerror(err));
  }
}

HttpClient::~HttpClient() { close(); }

void HttpClient::close() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

void HttpClient::shutdownWrite() {
  if (fd_ >= 0) shutdown(fd_, SHUT_WR);
}

void HttpClient::resetConnection() {
  if (fd_ < 0) return;
  linger lin{};
  lin.l_onoff = 1;
  lin.l_linger = 0;
  setsockopt(fd_, SOL_SOCKET, SO_LINGER, &lin, sizeof lin);
  close();
}

std::string HttpClient::hostHeader() const {
  bool v6 = host_.find(':') != std::string::npos;
  return (v6 ? "[" + host_ + "]" : host_) + ":" + std::to_string(port_);
}

// ---- writing ----------------------------------------------------------------------------------

bool HttpClient::send(std::string_view raw, std::chrono::milliseconds timeout) {
  auto deadline = Clock::now() + timeout;
  while (!raw.empty()) {
    if (fd_ < 0) return false;
    ssize_t n = ::send(fd_, raw.data(), raw.size(), MSG_NOSIGNAL);
    if (n > 0) {
      raw.remove_prefix(static_cast<size_t>(n));
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      int left = remainingMs(deadline);
      if (left == 0) return false;
      pollfd p{fd_, POLLOUT, 0};
      if (poll(&p, 1, left) < 0 && errno != EINTR) return false;
      continue;
    }
    return false;
  }
  return true;
}

bool HttpClient::sendStreamingBody(uint64_t bytes, bool chunked,
                                   std::chrono::milliseconds timeout) {
  auto deadline = Clock::now() + timeout;
  const auto& piece = streamPiece();
  while (bytes > 0) {
    auto n = static_cast<size_t>(std::min<uint64_t>(bytes, piece.size()));
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() <= 0) return false;
    if (chunked) {
      char size_line[32];
      int len = snprintf(size_line, sizeof size_line, "%zx\r\n", n);
      if (!send(std::string_view(size_line, static_cast<size_t>(len)), left)) return false;
    }
    if (!send(std::string_view(piece.data(), n), left)) return false;
    if (chunked && !send("\r\n", left)) return false;
    bytes -= n;
  }
  if (chunked) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    return left.count() > 0 && send("0\r\n\r\n", left);
  }
  return true;
}

// ---- reading ----------------------------------------------------------------------------------

HttpClient::Fill HttpClient::fill(Clock::time_point deadline) {
  if (eof_ || fd_ < 0) return Fill::Eof;
  if (in_pos_ == in_.size()) {
    in_.clear();
    in_pos_ = 0;
  } else if (in_pos_ > 1024 * 1024) {
    in_.erase(0, in_pos_);
    in_pos_ = 0;
  }
  char buf[64 * 1024];
  for (;;) {
    ssize_t n = recv(fd_, buf, sizeof buf, 0);
    if (n > 0) {
      in_.append(buf, static_cast<size_t>(n));
      return Fill::Data;
    }
    if (n == 0) {
      eof_ = true;
      return Fill::Eof;
    }
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
      int left = remainingMs(deadline);
      if (left == 0) return Fill::Timeout;
      pollfd p{fd_, POLLIN, 0};
      int r = poll(&p, 1, left);
      if (r == 0 && remainingMs(deadline) == 0) return Fill::Timeout;
      continue;
    }
    eof_ = true;
    reset_ = errno == ECONNRESET;
    return Fill::Eof;
  }
}

void HttpClient::markEnd(Fill f, Response& r) {
  if (f == Fill::Timeout) r.timed_out = true;
  r.peer_closed = eof_;
  r.peer_reset = reset_;
}

bool HttpClient::readLine(std::string& line, Clock::time_point deadline, Response& r) {
  size_t scan = 0;  // relative to in_pos_: fill() may compact the buffer
  for (;;) {
    auto nl = in_.find("\r\n", in_pos_ + scan);
    if (nl != std::string::npos) {
      line.assign(in_, in_pos_, nl - in_pos_);
      in_pos_ = nl + 2;
      return true;
    }
    if (buffered() > kMaxHeadBytes) {
      r.malformed = true;
      return false;
    }
    scan = buffered() >= 1 ? buffered() - 1 : 0;
    Fill f = fill(deadline);
    if (f != Fill::Data) {
      markEnd(f, r);
      return false;
    }
  }
}

bool HttpClient::readHead(Response& r, Clock::time_point deadline) {
  size_t scan = 0;  // relative to in_pos_
  size_t end;
  for (;;) {
    end = in_.find("\r\n\r\n", in_pos_ + scan);
    if (end != std::string::npos) break;
    if (buffered() > kMaxHeadBytes) {
      r.malformed = true;
      return false;
    }
    scan = buffered() >= 3 ? buffered() - 3 : 0;
    Fill f = fill(deadline);
    if (f != Fill::Data) {
      r.raw_head.assign(in_, in_pos_, std::string::npos);
      in_pos_ = in_.size();
      markEnd(f, r);
      return false;
    }
  }
  r.raw_head.assign(in_, in_pos_, end + 4 - in_pos_);
  in_pos_ = end + 4;

  std::string_view head(r.raw_head);
  head.remove_suffix(4);
  auto eol = head.find("\r\n");
  std::string_view status_line = head.substr(0, eol);
  head = eol == std::string_view::npos ? std::string_view() : head.substr(eol + 2);
  // "HTTP/1.1 200 OK"
  auto sp1 = status_line.find(' ');
  if (status_line.substr(0, 5) != "HTTP/" || sp1 == std::string_view::npos ||
      status_line.size() < sp1 + 4) {
    r.malformed = true;
    return false;
  }
  r.version = std::string(status_line.substr(0, sp1));
  std::string_view code = status_line.substr(sp1 + 1, 3);
  int status = 0;
  auto [p, ec] = std::from_chars(code.data(), code.data() + code.size(), status);
  if (ec != std::errc() || p != code.data() + code.size() || status < 100) {
    r.malformed = true;
    return false;
  }
  r.status = status;
  r.reason = status_line.size() > sp1 + 5 ? std::string(status_line.substr(sp1 + 5)) : "";
  r.headers.clear();
  while (!head.empty()) {
    eol = head.find("\r\n");
    parseHeaderLine(head.substr(0, eol), r.headers, r.malformed);
    head = eol == std::string_view::npos ? std::string_view() : head.substr(eol + 2);
  }
  return !r.malformed;
}

void HttpClient::take(size_t n, Response& r, bool keep_body) {
  if (keep_body) r.body.append(in_, in_pos_, n);
  in_pos_ += n;
  r.body_bytes += n;
}

void HttpClient::readBody(Response& r, const Options& options, bool keep_body,
                          Clock::time_point deadline) {
  if (options.head_request || r.status < 200 || r.status == 204 || r.status == 304) {
    r.complete = true;
    return;
  }
  if (isChunked(r.headers)) {
    r.chunked = true;
    std::string line;
    for (;;) {
      if (!readLine(line, deadline, r)) return;
      std::string_view digits = std::string_view(line).substr(0, line.find(';'));
      uint64_t size = 0;
      auto [p, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), size, 16);
      if (digits.empty() || ec != std::errc() || p != digits.data() + digits.size()) {
        r.malformed = true;
        return;
      }
      if (size == 0) break;
      while (size > 0) {
        if (buffered() == 0) {
          Fill f = fill(deadline);
          if (f != Fill::Data) return markEnd(f, r);
        }
        auto n = static_cast<size_t>(std::min<uint64_t>(size, buffered()));
        take(n, r, keep_body);
        size -= n;
      }
      if (!readLine(line, deadline, r)) return;
      if (!line.empty()) {
        r.malformed = true;
        return;
      }
    }
    for (;;) {
      if (!readLine(line, deadline, r)) return;
      if (line.empty()) break;
      parseHeaderLine(line, r.trailers, r.malformed);
    }
    r.complete = !r.malformed;
    return;
  }
  if (auto cl = r.header("Content-Length")) {
    uint64_t want = 0;
    auto [p, ec] = std::from_chars(cl->data(), cl->data() + cl->size(), want);
    if (cl->empty() || ec != std::errc() || p != cl->data() + cl->size()) {
      r.malformed = true;
      return;
    }
    while (want > 0) {
      if (buffered() == 0) {
        Fill f = fill(deadline);
        if (f != Fill::Data) return markEnd(f, r);
      }
      auto n = static_cast<size_t>(std::min<uint64_t>(want, buffered()));
      take(n, r, keep_body);
      want -= n;
    }
    r.complete = true;
    return;
  }
  // Close-delimited: complete only on a clean FIN.
  for (;;) {
    take(buffered(), r, keep_body);
    Fill f = fill(deadline);
    if (f == Fill::Data) continue;
    markEnd(f, r);
    r.complete = f == Fill::Eof && !reset_;
    return;
  }
}

Response HttpClient::read(const Options& options, bool keep_body) {
  auto deadline = Clock::now() + options.timeout;
  for (;;) {
    Response r;
    if (!readHead(r, deadline)) return r;
    if (r.status >= 100 && r.status < 200 && r.status != 101 && !options.return_interim) {
      continue;  // 100 Continue and friends: the final response follows
    }
    if (r.status >= 100 && r.status < 200) {
      r.complete = true;
      return r;
    }
    readBody(r, options, keep_body, deadline);
    r.peer_closed = r.peer_closed || eof_;
    r.peer_reset = r.peer_reset || reset_;
    return r;
  }
}

Response HttpClient::readResponse(const Options& options) { return read(options, true); }

Response HttpClient::readResponseDiscardingBody(const Options& options) {
  return read(options, false);
}

std::optional<std::string> HttpClient::readBytes(size_t n, std::chrono::milliseconds timeout) {
  auto deadline = Clock::now() + timeout;
  while (buffered() < n) {
    if (fill(deadline) != Fill::Data) return std::nullopt;
  }
  std::string out = in_.substr(in_pos_, n);
  in_pos_ += n;
  return out;
}

bool HttpClient::waitForClose(std::chrono::milliseconds timeout) {
  auto deadline = Clock::now() + timeout;
  for (;;) {
    in_pos_ = in_.size();
    Fill f = fill(deadline);
    if (f == Fill::Eof) return true;
    if (f == Fill::Timeout) return false;
  }
}

// ---- conveniences -----------------------------------------------------------------------------

Response HttpClient::get(std::string_view path, const Headers& extra_headers,
                         const Options& options) {
  return request("GET", path, extra_headers, {}, options);
}

Response HttpClient::request(std::string_view method, std::string_view target,
                             const Headers& headers, std::string_view body, Options options) {
  std::string raw;
  raw.reserve(256 + body.size());
  raw.append(method).append(" ").append(target).append(" HTTP/1.1\r\n");
  if (!findHeader(headers, "Host")) raw += "Host: " + hostHeader() + "\r\n";
  for (const auto& [n, v] : headers) raw += n + ": " + v + "\r\n";
  bool framed = findHeader(headers, "Content-Length") || findHeader(headers, "Transfer-Encoding");
  if (!framed && (!body.empty() || method == "POST" || method == "PUT" || method == "PATCH")) {
    raw += "Content-Length: " + std::to_string(body.size()) + "\r\n";
  }
  raw += "\r\n";
  raw.append(body);
  if (method == "HEAD") options.head_request = true;
  return rawRequest(raw, options);
}

Response HttpClient::rawRequest(std::string_view raw, const Options& options) {
  if (!send(raw, options.timeout)) {
    Response r;
    r.peer_closed = true;
    r.peer_reset = reset_;
    return r;
  }
  return readResponse(options);
}

// ---- pattern ----------------------------------------------------------------------------------

std::string patternBody(uint64_t n) {
  std::string out(static_cast<size_t>(n), '\0');
  for (size_t i = 0; i < out.size(); ++i) out[i] = kPattern[i % kPattern.size()];
  return out;
}

uint64_t fnv1a64(std::string_view data) {
  uint64_t h = 14695981039346656037ULL;
  for (char c : data) {
    h ^= static_cast<unsigned char>(c);
    h *= 1099511628211ULL;
  }
  return h;
}

std::string fnv1aHex(std::string_view data) {
  char buf[17];
  snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(fnv1a64(data)));
  return buf;
}

std::string patternFnv1aHex(uint64_t n) {
  uint64_t h = 14695981039346656037ULL;
  for (uint64_t i = 0; i < n; ++i) {
    h ^= static_cast<unsigned char>(kPattern[i % kPattern.size()]);
    h *= 1099511628211ULL;
  }
  char buf[17];
  snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(h));
  return buf;
}

std::string describeDifference(std::string_view actual, std::string_view expected) {
  if (actual == expected) return "";
  size_t i = 0;
  while (i < actual.size() && i < expected.size() && actual[i] == expected[i]) ++i;
  auto excerpt = [i](std::string_view s) {
    std::string_view part = i < s.size() ? s.substr(i, 16) : std::string_view();
    std::string quoted = "'";
    quoted.append(part).append("'");
    return quoted;
  };
  return "got " + std::to_string(actual.size()) + " bytes, expected " +
         std::to_string(expected.size()) + "; first difference at offset " + std::to_string(i) +
         ": " + excerpt(actual) + " vs " + excerpt(expected);
}

}  // namespace triaged::test
