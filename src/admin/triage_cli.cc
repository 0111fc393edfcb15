#include "triaged/admin/triage_cli.h"

#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>

#include "triaged/diagnose/failure.h"
#include "triaged/diagnose/failure_table.h"

namespace triaged::admin {
namespace {

using Clock = std::chrono::steady_clock;

constexpr std::chrono::seconds kTimeout{5};
// A report is a few KiB; anything this large is not one.
constexpr size_t kMaxResponseBytes = 64 * 1024 * 1024;

constexpr const char* kUsage =
    "usage: triaged triage --admin HOST:PORT [--json]\n"
    "  --admin HOST:PORT  the daemon's admin listener (server.admin_listen), e.g.\n"
    "                     127.0.0.1:9901 or [::1]:9901\n"
    "  --json             print the JSON report instead of the text table\n"
    "The text report is coloured when stdout is a terminal, unless NO_COLOR is set or\n"
    "TERM=dumb.\n";

constexpr const char* kBold = "\x1b[1m";
constexpr const char* kRed = "\x1b[31m";
constexpr const char* kYellow = "\x1b[33m";
constexpr const char* kReset = "\x1b[0m";

int usageError(const std::string& problem) {
  std::fprintf(stderr, "triaged triage: %s\n", problem.c_str());
  std::fputs(kUsage, stderr);
  return 2;
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

struct Target {
  std::string host;  // without brackets, for getaddrinfo
  std::string port;
  std::string text;  // as the operator wrote it: messages and the Host header
};

std::optional<Target> parseTarget(std::string_view text) {
  const size_t colon = text.rfind(':');
  if (colon == std::string_view::npos || colon == 0) return std::nullopt;
  std::string_view host = text.substr(0, colon);
  const std::string_view port = text.substr(colon + 1);
  if (host.front() == '[') {
    if (host.size() < 3 || host.back() != ']') return std::nullopt;
    host = host.substr(1, host.size() - 2);
  } else if (host.find(':') != std::string_view::npos) {
    return std::nullopt;  // an IPv6 literal needs brackets, or the port is ambiguous
  }
  if (port.empty() || port.size() > 5) return std::nullopt;
  unsigned value = 0;
  for (const char c : port) {
    if (c < '0' || c > '9') return std::nullopt;
    value = value * 10 + static_cast<unsigned>(c - '0');
  }
  if (value == 0 || value > 65535) return std::nullopt;
  return Target{std::string(host), std::string(port), std::string(text)};
}

int remainingMs(Clock::time_point deadline) {
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
  return left.count() > 0 ? static_cast<int>(left.count()) : 0;
}

// Waits for `events` on `fd`. 0 when ready, otherwise the errno to report (ETIMEDOUT when the
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

// A connected, non-blocking socket, or the errno of the last address tried.
struct Connected {
  int fd = -1;
  int error = 0;
  std::string gai_error;  // set when the name did not resolve
};

Connected connectTo(const Target& target, Clock::time_point deadline) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICSERV;
  addrinfo* list = nullptr;
  Connected result;
  const int rc = ::getaddrinfo(target.host.c_str(), target.port.c_str(), &hints, &list);
  if (rc != 0) {
    result.gai_error = rc == EAI_SYSTEM ? std::strerror(errno) : ::gai_strerror(rc);
    return result;
  }
  result.error = ECONNREFUSED;
  for (addrinfo* ai = list; ai != nullptr; ai = ai->ai_next) {
    const int fd =
        ::socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
    if (fd < 0) {
      result.error = errno;
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
      result.error = 0;
      break;
    }
    ::close(fd);
    result.error = err;
    if (err == ETIMEDOUT) break;  // the deadline is shared: no time left for another address
  }
  ::freeaddrinfo(list);
  return result;
}

bool startsWith(std::string_view s, std::string_view prefix) {
  return s.substr(0, prefix.size()) == prefix;
}

bool equalsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    const auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c + 32) : c; };
    if (lower(a[i]) != lower(b[i])) return false;
  }
  return true;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) {
    s.remove_suffix(1);
  }
  return s;
}

struct Reply {
  int status = 0;
  std::string reason;
  std::string body;
};

struct Head {
  size_t body_start = 0;
  Reply reply;
  std::optional<size_t> content_length;
  bool chunked = false;
};

// Parses the status line and headers in raw[0, end) where raw[end..end+4) is "\r\n\r\n".
std::optional<Head> parseHead(std::string_view raw, size_t end) {
  Head head;
  head.body_start = end + 4;
  std::string_view rest = raw.substr(0, end + 2);
  auto nextLine = [&rest]() {
    const size_t eol = rest.find("\r\n");
    const std::string_view line = rest.substr(0, eol);
    rest.remove_prefix(eol + 2);
    return line;
  };
  const std::string_view status_line = nextLine();
  // "HTTP/1.1 200 OK"
  if (!startsWith(status_line, "HTTP/1.") || status_line.size() < 12 || status_line[8] != ' ') {
    return std::nullopt;
  }
  int status = 0;
  for (size_t i = 9; i < 12; ++i) {
    const char c = status_line[i];
    if (c < '0' || c > '9') return std::nullopt;
    status = status * 10 + (c - '0');
  }
  head.reply.status = status;
  if (status_line.size() > 13) head.reply.reason = std::string(status_line.substr(13));
  while (!rest.empty()) {
    const std::string_view line = nextLine();
    const size_t colon = line.find(':');
    if (colon == std::string_view::npos) return std::nullopt;
    const std::string_view name = line.substr(0, colon);
    const std::string_view value = trim(line.substr(colon + 1));
    if (equalsIgnoreCase(name, "Content-Length")) {
      size_t n = 0;
      if (value.empty() || value.size() > 15) return std::nullopt;
      for (const char c : value) {
        if (c < '0' || c > '9') return std::nullopt;
        n = n * 10 + static_cast<size_t>(c - '0');
      }
      head.content_length = n;
    } else if (equalsIgnoreCase(name, "Transfer-Encoding")) {
      head.chunked = equalsIgnoreCase(value, "chunked");
      if (!head.chunked) return std::nullopt;  // nothing else is expected from evhttp
    }
  }
  return head;
}

enum class Decode { Done, NeedMore, Malformed };

// Chunked framing in `in`; the payload goes to `out` once the last chunk has arrived.
Decode decodeChunked(std::string_view in, std::string& out) {
  std::string body;
  for (;;) {
    const size_t eol = in.find("\r\n");
    if (eol == std::string_view::npos) return Decode::NeedMore;
    std::string_view size_text = in.substr(0, eol);
    size_text = size_text.substr(0, size_text.find(';'));  // chunk extensions
    size_text = trim(size_text);
    if (size_text.empty() || size_text.size() > 12) return Decode::Malformed;
    size_t size = 0;
    for (const char c : size_text) {
      int digit = 0;
      if (c >= '0' && c <= '9') {
        digit = c - '0';
      } else if (c >= 'a' && c <= 'f') {
        digit = c - 'a' + 10;
      } else if (c >= 'A' && c <= 'F') {
        digit = c - 'A' + 10;
      } else {
        return Decode::Malformed;
      }
      size = size * 16 + static_cast<size_t>(digit);
    }
    in.remove_prefix(eol + 2);
    if (size == 0) {
      // Trailers (ignored) up to the empty line.
      for (;;) {
        const size_t end = in.find("\r\n");
        if (end == std::string_view::npos) return Decode::NeedMore;
        in.remove_prefix(end + 2);
        if (end == 0) break;
      }
      out = std::move(body);
      return Decode::Done;
    }
    if (in.size() < size + 2) return Decode::NeedMore;
    if (in.substr(size, 2) != "\r\n") return Decode::Malformed;
    body.append(in.substr(0, size));
    in.remove_prefix(size + 2);
  }
}

// Outcome of the exchange after the connection was made.
struct Exchange {
  std::optional<Reply> reply;
  std::string problem;  // when !reply: what went wrong, for the message
};

// Sends a GET for `target` and reads one response, all before `deadline`.
Exchange exchange(int fd, const Target& where, std::string_view path, bool json,
                  Clock::time_point deadline) {
  const std::string request =
      "GET " + std::string(path) +
      " HTTP/1.1\r\n"
      "Host: " +
      where.text + "\r\nAccept: " + (json ? "application/json" : "text/plain") +
      "\r\nUser-Agent: triaged-triage/" TRIAGED_VERSION "\r\nConnection: close\r\n\r\n";
  Exchange ex;
  size_t sent = 0;
  while (sent < request.size()) {
    const ssize_t n = ::send(fd, request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
    if (n >= 0) {
      sent += static_cast<size_t>(n);
      continue;
    }
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
      if (const int err = waitFor(fd, POLLOUT, deadline); err != 0) {
        ex.problem = err == ETIMEDOUT ? "no response within 5 s" : std::strerror(err);
        return ex;
      }
      continue;
    }
    ex.problem = std::string("sending the request failed: ") + std::strerror(errno);
    return ex;
  }

  std::string raw;
  std::optional<Head> head;
  char buf[16384];
  for (;;) {
    // Is the response complete already?
    if (!head) {
      const size_t end = raw.find("\r\n\r\n");
      if (end != std::string::npos) {
        head = parseHead(raw, end);
        if (!head) {
          ex.problem = "malformed HTTP response";
          return ex;
        }
      }
    }
    if (head) {
      const std::string_view body = std::string_view(raw).substr(head->body_start);
      if (head->chunked) {
        const Decode d = decodeChunked(body, head->reply.body);
        if (d == Decode::Malformed) {
          ex.problem = "malformed chunked response body";
          return ex;
        }
        if (d == Decode::Done) break;
      } else if (head->content_length && body.size() >= *head->content_length) {
        head->reply.body = std::string(body.substr(0, *head->content_length));
        break;
      }
    }
    if (raw.size() > kMaxResponseBytes) {
      ex.problem = "response larger than 64 MiB";
      return ex;
    }
    const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n > 0) {
      raw.append(buf, static_cast<size_t>(n));
      continue;
    }
    if (n == 0) {  // EOF: complete only when the framing is "until close"
      if (head && !head->chunked && !head->content_length) {
        head->reply.body = raw.substr(head->body_start);
        break;
      }
      ex.problem = head ? "connection closed before the response body was complete"
                        : "connection closed before a complete response header";
      return ex;
    }
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
      if (const int err = waitFor(fd, POLLIN, deadline); err != 0) {
        ex.problem = err == ETIMEDOUT ? "no complete response within 5 s" : std::strerror(err);
        return ex;
      }
      continue;
    }
    ex.problem = std::string("reading the response failed: ") + std::strerror(errno);
    return ex;
  }
  ex.reply = std::move(head->reply);
  return ex;
}

bool useColour() {
  if (::isatty(STDOUT_FILENO) == 0) return false;
  if (std::getenv("NO_COLOR") != nullptr) return false;
  const char* term = std::getenv("TERM");
  return term == nullptr || std::string_view(term) != "dumb";
}

bool isWordChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

// True when `word` occurs in `line` with no word character on either side.
bool containsWord(std::string_view line, std::string_view word) {
  for (size_t at = line.find(word); at != std::string_view::npos; at = line.find(word, at + 1)) {
    const bool left_ok = at == 0 || !isWordChar(line[at - 1]);
    const size_t after = at + word.size();
    const bool right_ok = after >= line.size() || !isWordChar(line[after]);
    if (left_ok && right_ok) return true;
  }
  return false;
}

bool isHeading(std::string_view line) {
  if (line.empty() || line.front() == ' ' || line.front() == '\t') return false;
  if (startsWith(line, "triaged triage report") || line.front() == '#') return true;
  if (line.back() == ':') return true;
  // The table's column header: capitals, digits and spaces only ("UPSTREAM CAUSE ... 1m"
  // has lower-case 'm', so allow that one letter after a digit).
  bool has_letter = false;
  for (size_t i = 0; i < line.size(); ++i) {
    const char c = line[i];
    if (c >= 'A' && c <= 'Z') {
      has_letter = true;
    } else if (c == 'm' && i > 0 && line[i - 1] >= '0' && line[i - 1] <= '9') {
      continue;
    } else if (c != ' ' && c != '\t' && c != '_' && c != '-' && !(c >= '0' && c <= '9')) {
      return false;
    }
  }
  return has_letter;
}

// The colour for a line naming failures, or nullptr. 503 and causes that mean "too busy" or
// "the client's doing" are yellow; everything else (502, 504, crashes, timeouts) is red.
const char* severityColour(std::string_view line) {
  if (containsWord(line, "502") || containsWord(line, "504")) return kRed;
  if (containsWord(line, "503")) return kYellow;
  const auto first = static_cast<int>(diagnose::FailureCause::ConnectRefused);
  const auto last = static_cast<int>(diagnose::FailureCause::NoRoute);
  for (int i = first; i <= last; ++i) {
    const auto& info = diagnose::causeInfo(static_cast<diagnose::FailureCause>(i));
    if (!containsWord(line, info.name)) continue;
    const bool mild = info.cause_class == "overload" || info.cause_class == "unavailable" ||
                      info.cause_class == "client";
    return mild ? kYellow : kRed;
  }
  return nullptr;
}

}  // namespace

std::string colorizeTriageText(std::string_view text) {
  std::string out;
  out.reserve(text.size() + text.size() / 8);
  while (!text.empty()) {
    const size_t eol = text.find('\n');
    const std::string_view line = text.substr(0, eol);
    const char* colour = isHeading(line) ? kBold : severityColour(line);
    if (colour != nullptr && !line.empty()) {
      out.append(colour).append(line).append(kReset);
    } else {
      out.append(line);
    }
    if (eol == std::string_view::npos) break;
    out.push_back('\n');
    text.remove_prefix(eol + 1);
  }
  return out;
}

int runTriageCommand(const std::vector<std::string_view>& args) {
  std::optional<std::string_view> admin;
  bool json = false;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string_view a = args[i];
    if (a == "--help" || a == "-h") {
      std::fputs(kUsage, stdout);
      return 0;
    }
    if (a == "--json") {
      json = true;
    } else if (a == "--admin") {
      if (i + 1 >= args.size()) return usageError("--admin needs HOST:PORT");
      admin = args[++i];
    } else if (startsWith(a, "--admin=")) {
      admin = a.substr(8);
    } else {
      return usageError("unknown argument: " + std::string(a));
    }
  }
  if (!admin) return usageError("--admin HOST:PORT is required");
  const std::optional<Target> target = parseTarget(*admin);
  if (!target) {
    return usageError("--admin wants HOST:PORT (IPv6 as [ADDR]:PORT), not '" + std::string(*admin) +
                      "'");
  }

  const Clock::time_point deadline = Clock::now() + kTimeout;
  const Connected conn = connectTo(*target, deadline);
  if (conn.fd < 0) {
    const std::string why = conn.gai_error.empty() ? std::strerror(conn.error) : conn.gai_error;
    std::fprintf(stderr, "triaged triage: cannot reach admin listener %s: %s\n",
                 target->text.c_str(), why.c_str());
    return 1;
  }
  const Fd fd(conn.fd);
  const Exchange ex = exchange(
      fd.get(), *target, json ? "/debug/triage" : "/debug/triage?format=text", json, deadline);
  if (!ex.reply) {
    std::fprintf(stderr, "triaged triage: admin listener %s: %s\n", target->text.c_str(),
                 ex.problem.c_str());
    return 1;
  }
  const Reply& reply = *ex.reply;
  if (reply.status != 200) {
    std::fprintf(stderr, "triaged triage: admin listener %s answered %d %s\n", target->text.c_str(),
                 reply.status, reply.reason.c_str());
    std::fwrite(reply.body.data(), 1, reply.body.size(), stderr);
    if (!reply.body.empty() && reply.body.back() != '\n') std::fputc('\n', stderr);
    return 1;
  }
  std::string out = !json && useColour() ? colorizeTriageText(reply.body) : reply.body;
  if (!out.empty() && out.back() != '\n') out.push_back('\n');
  if (std::fwrite(out.data(), 1, out.size(), stdout) != out.size() || std::fflush(stdout) != 0) {
    std::fprintf(stderr, "triaged triage: writing the report failed: %s\n", std::strerror(errno));
    return 1;
  }
  return 0;
}

}  // namespace triaged::admin
