#include "runner.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <regex>
#include <stdexcept>

namespace conformance {
namespace {

using Clock = std::chrono::steady_clock;

bool lowerEquals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

// A blocking TCP client with deadlines on every read.
class Socket {
 public:
  explicit Socket(const Address& a) {
    fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(a.port);
    inet_pton(AF_INET, a.host.c_str(), &addr.sin_addr);
    if (fd_ < 0 || connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
      throw std::runtime_error("cannot connect to " + a.host + ":" + std::to_string(a.port));
    }
  }
  ~Socket() {
    if (fd_ >= 0) close(fd_);
  }
  Socket(const Socket&) = delete;
  Socket& operator=(const Socket&) = delete;

  bool sendAll(std::string_view data) {
    while (!data.empty()) {
      const ssize_t n = send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return false;
      data.remove_prefix(static_cast<size_t>(n));
    }
    return true;
  }
  // Appends what arrives before `deadline`. "data", "eof", "reset" or "timeout".
  std::string_view receive(std::string& buf, Clock::time_point deadline) {
    while (true) {
      const auto left =
          std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
      if (left <= 0) return "timeout";
      pollfd p{fd_, POLLIN, 0};
      if (poll(&p, 1, static_cast<int>(left)) <= 0) continue;
      char chunk[65536];
      const ssize_t n = recv(fd_, chunk, sizeof chunk, 0);
      if (n > 0) {
        buf.append(chunk, static_cast<size_t>(n));
        return "data";
      }
      if (n == 0) return "eof";
      if (errno == EINTR || errno == EAGAIN) continue;
      return "reset";
    }
  }

 private:
  int fd_ = -1;
};

// Parses one response from the start of `buf`. Returns bytes used, 0 when more are needed, or
// npos when the bytes are no HTTP response. `until_close` bodies end at `eof`.
size_t parseResponse(const std::string& buf, bool head_request, bool eof, ClientResponse& r) {
  const size_t end = buf.find("\r\n\r\n");
  if (end == std::string::npos) return buf.size() > 65536 ? std::string::npos : 0;
  if (buf.rfind("HTTP/1.", 0) != 0 || buf.size() < 12) return std::string::npos;
  r.head = buf.substr(0, end + 4);
  r.status = std::atoi(buf.substr(9, 3).c_str());
  const bool no_body = head_request || r.status / 100 == 1 || r.status == 204 || r.status == 304;
  size_t pos = end + 4;
  r.body.clear();
  if (!no_body) {
    const std::string te = r.header("Transfer-Encoding");
    const std::string cl = r.header("Content-Length");
    if (lowerEquals(te, "chunked")) {
      while (true) {
        const size_t nl = buf.find("\r\n", pos);
        if (nl == std::string::npos) return 0;
        const uint64_t size = std::strtoull(buf.substr(pos, nl - pos).c_str(), nullptr, 16);
        pos = nl + 2;
        if (size == 0) {
          const size_t tend = buf.find("\r\n", pos);
          if (tend == std::string::npos) return 0;
          // Trailers: lines until an empty one.
          size_t t = pos;
          while (true) {
            const size_t l = buf.find("\r\n", t);
            if (l == std::string::npos) return 0;
            if (l == t) {
              pos = l + 2;
              break;
            }
            t = l + 2;
          }
          break;
        }
        if (buf.size() < pos + size + 2) return 0;
        r.body += buf.substr(pos, size);
        pos += size + 2;
      }
    } else if (!cl.empty()) {
      const uint64_t n = std::strtoull(cl.c_str(), nullptr, 10);
      if (buf.size() < pos + n) return 0;
      r.body = buf.substr(pos, n);
      pos += n;
    } else {
      if (!eof) return 0;
      r.body = buf.substr(pos);
      pos = buf.size();
    }
  }
  r.raw = buf.substr(0, pos);
  r.complete = true;
  return pos;
}

class Control {
 public:
  explicit Control(const Address& a) : socket_(a) {}
  std::string command(const std::string& line) {
    socket_.sendAll(line + "\n");
    return readUntil("\n");
  }
  std::vector<Record> log(std::chrono::milliseconds wait) {
    socket_.sendAll("log " + std::to_string(wait.count()) + "\n");
    const std::string text = readUntil("end\n");
    std::vector<Record> out;
    size_t pos = 0;
    while (pos < text.size()) {
      const size_t nl = text.find('\n', pos);
      const std::string line = text.substr(pos, nl - pos);
      pos = nl + 1;
      if (line == "end") break;
      Record r;
      const size_t s1 = line.find(' ');
      const size_t s2 = line.find(' ', s1 + 1);
      r.kind = line.substr(0, s1);
      r.conn = std::atoi(line.substr(s1 + 1, s2 - s1 - 1).c_str());
      std::string rest = s2 == std::string::npos ? "" : line.substr(s2 + 1);
      if (r.kind == "reject") {
        const size_t s3 = rest.find(' ');
        std::string error;
        r.reason = unescape(rest.substr(0, s3), error).value_or(rest);
        rest = s3 == std::string::npos ? "" : rest.substr(s3 + 1);
      }
      std::string error;
      r.bytes = unescape(rest, error).value_or(rest);
      out.push_back(std::move(r));
    }
    return out;
  }

 private:
  std::string readUntil(std::string_view terminator) {
    const auto deadline = Clock::now() + std::chrono::seconds(10);
    while (buf_.find(terminator) == std::string::npos) {
      if (socket_.receive(buf_, deadline) != "data") {
        throw std::runtime_error("the recording upstream's control port did not answer");
      }
    }
    const size_t end = buf_.find(terminator) + terminator.size();
    std::string out = buf_.substr(0, end);
    buf_.erase(0, end);
    return out;
  }

  Socket socket_;
  std::string buf_;
};

constexpr std::string_view kDefaultRequest = "GET /r HTTP/1.1\r\nHost: app\r\n\r\n";

// Reads responses until one is final (interim ones are kept too). False at close/timeout, with
// `end` saying which.
bool readFinal(Socket& s, std::string& buf, bool head_request, Clock::time_point deadline,
               std::vector<ClientResponse>& out, std::string& end) {
  bool eof = false;
  while (true) {
    ClientResponse r;
    const size_t used = buf.empty() ? 0 : parseResponse(buf, head_request, eof, r);
    if (used == std::string::npos) {
      end = "garbage";
      return false;
    }
    if (used > 0) {
      buf.erase(0, used);
      out.push_back(r);
      if (r.status / 100 != 1 || r.status == 101) return true;
      continue;
    }
    if (eof) {
      end = buf.empty() ? "closed" : "closed mid-response";
      const size_t head_end = buf.find("\r\n\r\n");
      if (head_end != std::string::npos && buf.rfind("HTTP/1.", 0) == 0 && buf.size() >= 12) {
        r.head = buf.substr(0, head_end + 4);
        r.status = std::atoi(buf.substr(9, 3).c_str());
        r.raw = buf;
        out.push_back(r);  // complete stays false
      }
      return false;
    }
    const std::string_view got = s.receive(buf, deadline);
    if (got == "eof") {
      eof = true;
    } else if (got != "data") {
      end = std::string(got);
      return false;
    }
  }
}

Outcome run(const Address& proxy, const Address& control_address, std::string_view request,
            const std::optional<std::string>& response, bool response_close,
            const RunOptions& options) {
  Outcome o;
  try {
    Control control(control_address);
    control.command("clear");
    if (response) {
      control.command(std::string(response_close ? "respond-close " : "respond ") +
                      escape(*response));
    }
    {
      Socket client(proxy);
      const bool head = request.rfind("HEAD ", 0) == 0;
      std::string buf;
      client.sendAll(request);
      if (readFinal(client, buf, head, Clock::now() + options.timeout, o.responses, o.end) &&
          o.responses.back().status != 101 &&
          lowerEquals(o.responses.back().header("Connection"), "close")) {
        // Announced: the proxy must close now, and a follow-up would only meet a reset.
        std::vector<ClientResponse> more;
        if (readFinal(client, buf, false, Clock::now() + options.timeout, more, o.end)) {
          o.end = "open after Connection: close";
        }
      } else if (!o.responses.empty() && o.end.empty() && o.responses.back().status != 101) {
        o.end = "";
        // More responses to the vector may already be there (pipelined requests in it).
        const std::string target = "/follow-up";
        const bool sent = options.send_follow_up &&
                          client.sendAll("GET " + target + " HTTP/1.1\r\nHost: app\r\n\r\n");
        while (o.end.empty()) {
          std::vector<ClientResponse> more;
          if (!sent) {
            o.end = "closed";
            break;
          }
          if (!readFinal(client, buf, false, Clock::now() + options.timeout, more, o.end)) {
            for (auto& r : more) o.responses.push_back(std::move(r));
            break;
          }
          ClientResponse& last = more.back();
          if (last.header("X-Seen-Target") == target) {
            o.follow_up = last;
            more.pop_back();
            for (auto& r : more) o.responses.push_back(std::move(r));
            o.end = "follow-up answered";
          } else {
            // A response that is not the follow-up's: one more answer to the vector (pipelined
            // requests), or a desync; the verdict tells which.
            for (auto& r : more) o.responses.push_back(std::move(r));
          }
        }
      } else if (!o.responses.empty() && o.responses.back().status == 101) {
        o.end = "tunnel";
      }
    }
    o.upstream = control.log(std::chrono::milliseconds(1000));
  } catch (const std::exception& e) {
    o.error = e.what();
  }
  return o;
}

}  // namespace

std::string ClientResponse::header(std::string_view name) const {
  size_t pos = head.find("\r\n");
  while (pos != std::string::npos && pos + 2 < head.size()) {
    const size_t start = pos + 2;
    const size_t end = head.find("\r\n", start);
    if (end == std::string::npos || end == start) break;
    const std::string_view line(head.data() + start, end - start);
    const size_t colon = line.find(':');
    if (colon != std::string_view::npos && lowerEquals(line.substr(0, colon), name)) {
      std::string_view v = line.substr(colon + 1);
      while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
      while (!v.empty() && (v.back() == ' ' || v.back() == '\t')) v.remove_suffix(1);
      return std::string(v);
    }
    pos = end;
  }
  return "";
}

int Outcome::followUpConnection() const {
  for (const Record& r : upstream) {
    if (r.kind == "request" && r.bytes.rfind("GET /follow-up ", 0) == 0) return r.conn;
  }
  return 0;
}

std::string Outcome::forwarded() const {
  std::string out;
  for (const Record& r : upstream) {
    if (r.kind == "request" && r.bytes.rfind("GET /follow-up ", 0) != 0) out += r.bytes;
  }
  return out;
}

std::vector<int> Outcome::vectorConnections() const {
  std::vector<int> out;
  for (const Record& r : upstream) {
    if (r.kind != "request" || r.bytes.rfind("GET /follow-up ", 0) == 0) continue;
    if (std::find(out.begin(), out.end(), r.conn) == out.end()) out.push_back(r.conn);
  }
  return out;
}

bool Outcome::upstreamSawAmbiguity() const {
  return std::any_of(upstream.begin(), upstream.end(),
                     [](const Record& r) { return r.kind == "reject" || r.kind == "partial"; });
}

Outcome runRequestVector(const Address& proxy, const Address& control, const Vector& v,
                         const RunOptions& options) {
  return run(proxy, control, v.section("request").value_or(""), std::nullopt, false, options);
}

Outcome runResponseVector(const Address& proxy, const Address& control, const Vector& v,
                          const RunOptions& options) {
  const std::string request = v.section("request").value_or(std::string(kDefaultRequest));
  return run(proxy, control, request, v.section("response").value_or(""),
             v.key("upstream-close") == "yes", options);
}

std::string normalize(std::string bytes) {
  static const std::regex kId("X-Request-Id: [0-9a-f]{32}\r\n");
  static const std::regex kEndpoint("Host: 127\\.0\\.0\\.1:[0-9]+\r\n");
  bytes = std::regex_replace(bytes, kId, "X-Request-Id: {id}\r\n");
  return std::regex_replace(bytes, kEndpoint, "Host: {endpoint}\r\n");
}

std::vector<std::string> checkVerdict(const Vector& v, const Outcome& o, bool response_vector) {
  std::vector<std::string> problems;
  auto problem = [&problems](std::string p) { problems.push_back(std::move(p)); };
  if (!o.error.empty()) {
    problem("run failed: " + o.error);
    return problems;
  }
  // Invariants, whatever the verdict.
  for (const Record& r : o.upstream) {
    if (r.kind == "reject") {
      problem("the upstream refused what it got (" + r.reason + "): " + escape(r.bytes));
    }
    if (r.kind == "partial") problem("the upstream got part of a request: " + escape(r.bytes));
  }
  const std::string expect = v.key("expect");
  // A reset counts as a close: it is what a follow-up sent after the proxy's FIN meets.
  const bool aborted = expect == "abort" && o.end == "closed mid-response";
  if (o.end != "follow-up answered" && o.end != "closed" && o.end != "reset" && o.end != "tunnel" &&
      !aborted) {
    problem("client side ended with '" + o.end + "', not the follow-up's own response or a close");
  }

  const int want_status = std::atoi(expect.c_str());
  const ClientResponse* final_response = nullptr;
  for (const auto& r : o.responses) {
    if (r.status / 100 != 1 || r.status == 101) {
      final_response = &r;
      break;
    }
  }
  if (final_response == nullptr) {
    problem("no final response to the vector");
    return problems;
  }
  if (want_status != 0) {
    // A refusal or failure made by the proxy itself.
    if (final_response->status != want_status) {
      problem("status " + std::to_string(final_response->status) + ", want " + expect);
    }
    const size_t sp = expect.find(' ');
    const std::string cause = sp == std::string::npos ? "" : expect.substr(sp + 1);
    if (!cause.empty() && final_response->header("X-Triaged-Cause") != cause) {
      problem("X-Triaged-Cause '" + final_response->header("X-Triaged-Cause") + "', want " + cause);
    }
    if (!response_vector && !o.forwarded().empty()) {
      problem("refused, yet the upstream got: " + escape(o.forwarded()));
    }
  } else if (expect == "forward" || expect == "relay") {
    const auto want = v.section(response_vector ? "client" : "upstream");
    std::string got;
    if (response_vector) {
      for (const auto& r : o.responses) got += r.raw;
    } else {
      got = o.forwarded();
    }
    got = normalize(got);
    if (want && got != *want) {
      problem(std::string(response_vector ? "the client got " : "the upstream got ") + escape(got) +
              " -- want " + escape(*want));
    }
    const size_t responses =
        static_cast<size_t>(std::max(1, std::atoi(v.key("responses", "1").c_str())));
    size_t finals = 0;
    for (const auto& r : o.responses) finals += r.status / 100 != 1 ? 1 : 0;
    if (finals != responses) {
      problem(std::to_string(finals) + " final responses, want " + std::to_string(responses));
    }
  } else if (expect == "abort") {
    // The head went out before the body turned out bad: the client must see the response cut
    // (no complete message), never a complete one.
    if (final_response->complete) problem("the response reached the client complete");
  } else {
    problem("unknown expect: " + expect);
  }
  if (response_vector && v.key("reuse", "no") == "no") {
    const int follow = o.followUpConnection();
    for (const int c : o.vectorConnections()) {
      if (c == follow) {
        problem("the upstream connection that sent the vector's response was used again");
      }
    }
  }
  return problems;
}

std::string describe(const Outcome& o) {
  if (!o.error.empty()) return "error: " + o.error;
  std::string out;
  for (const auto& r : o.responses) {
    if (!out.empty()) out += " ";
    out += std::to_string(r.status);
  }
  if (out.empty()) out = "no answer";
  // Anything the upstream got counts, what its strict parser refused too: a 400 that the
  // upstream made is no refusal of the proxy's.
  const bool reached = std::any_of(o.upstream.begin(), o.upstream.end(), [](const Record& r) {
    return (r.kind == "request" && r.bytes.rfind("GET /follow-up ", 0) != 0) ||
           r.kind == "reject" || r.kind == "partial";
  });
  if (reached) out += " forwarded";
  if (o.end == "follow-up answered") {
    out += ", kept open";
  } else if (o.end == "closed" || o.end == "reset") {
    out += ", closed";
  } else if (!o.end.empty()) {
    out += ", " + o.end;
  }
  if (o.upstreamSawAmbiguity()) out += ", AMBIGUOUS UPSTREAM";
  return out;
}

}  // namespace conformance
