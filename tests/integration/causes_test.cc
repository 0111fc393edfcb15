// Every cause of PRODUCT.md's cause table, provoked against the real binary, as the operator sees
// it: what the client got (status, X-Triaged-Cause on proxy-made replies, X-Request-Id) and the
// one failure line triaged logs for it (cause, status, phase, errno, reused_connection, origin,
// upstream, endpoint, request_id, and a hint that starts with the status and names the endpoint).
// Also the stale keep-alive race absorbed by a retry, and the [log] options that change what a
// failure reports (hint_language, format, expose_details).

#include <arpa/inet.h>
#include <fcntl.h>
#include <iconv.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <chrono>
#include <csignal>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "harness/daemon_process.h"
#include "harness/fake_dns.h"
#include "harness/fake_upstream.h"
#include "harness/http_client.h"
#include "harness/metrics_scrape.h"
#include "harness/process.h"
#include "harness/proxied.h"
#include "harness/test_support.h"

namespace triaged::test {
namespace {

using Clock = std::chrono::steady_clock;

bool startsWith(const std::string& s, const std::string& prefix) {
  return s.compare(0, prefix.size(), prefix) == 0;
}

// A UTF-8 encoded code point of the CJK Unified Ideographs block (U+4E00..U+9FFF).
bool containsCjk(const std::string& s) {
  for (size_t i = 0; i + 2 < s.size(); ++i) {
    const auto b0 = static_cast<unsigned char>(s[i]);
    const auto b1 = static_cast<unsigned char>(s[i + 1]);
    const auto b2 = static_cast<unsigned char>(s[i + 2]);
    if ((b0 & 0xF0U) != 0xE0U || (b1 & 0xC0U) != 0x80U || (b2 & 0xC0U) != 0x80U) continue;
    const unsigned cp = ((b0 & 0x0FU) << 12U) | ((b1 & 0x3FU) << 6U) | (b2 & 0x3FU);
    if (cp >= 0x4E00 && cp <= 0x9FFF) return true;
  }
  return false;
}

sockaddr_in loopback(uint16_t port) {
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(port);
  return addr;
}

uint16_t boundPort(int fd) {
  sockaddr_in addr{};
  socklen_t len = sizeof addr;
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    throw std::runtime_error("getsockname failed");
  }
  return ntohs(addr.sin_port);
}

int boundSocket() {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) throw std::runtime_error("socket failed");
  sockaddr_in addr = loopback(0);
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    throw std::runtime_error("bind failed");
  }
  return fd;
}

// A loopback port that is bound but never listens: every connect is answered RST
// (ECONNREFUSED), and no other process can take the port while this object lives.
class RefusingPort {
 public:
  RefusingPort() : fd_(boundSocket()), port_(boundPort(fd_)) {}
  ~RefusingPort() { ::close(fd_); }
  RefusingPort(const RefusingPort&) = delete;
  RefusingPort& operator=(const RefusingPort&) = delete;
  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }

 private:
  int fd_;
  uint16_t port_;
};

// A loopback listener with listen(fd, 0) that never accepts, its accept queue filled by the test's
// own connections: the kernel drops every further SYN, so a connect() neither succeeds nor fails
// until the connector gives up. This is how a host that drops SYNs looks from the proxy.
class BlackholePort {
 public:
  BlackholePort() : listen_fd_(boundSocket()), port_(boundPort(listen_fd_)) {
    if (listen(listen_fd_, 0) != 0) throw std::runtime_error("listen failed");
    // The first connection completes and fills the queue (one entry for a backlog of 0); the
    // second is left half-open, so a queue slot freed by chance is taken at once.
    for (int i = 0; i < 2; ++i) {
      const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
      if (fd < 0) throw std::runtime_error("socket failed");
      sockaddr_in addr = loopback(port_);
      connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);  // EINPROGRESS expected
      fillers_.push_back(fd);
      if (i == 0) waitWritable(fd);
    }
  }
  ~BlackholePort() {
    for (int fd : fillers_) ::close(fd);
    ::close(listen_fd_);
  }
  BlackholePort(const BlackholePort&) = delete;
  BlackholePort& operator=(const BlackholePort&) = delete;
  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }

 private:
  static void waitWritable(int fd) {
    fd_set set;
    FD_ZERO(&set);
    FD_SET(fd, &set);
    timeval tv{2, 0};
    select(fd + 1, nullptr, &set, nullptr, &tv);
  }

  int listen_fd_;
  uint16_t port_;
  std::vector<int> fillers_;
};

std::string withLog(const std::string& config, const std::string& log_keys) {
  return config + "\n[log]\n" + log_keys + "\n";
}

// One fake upstream and one triaged routing everything to it.

bool isEvent(const std::string& line, const std::string& event) {
  return jsonField(line, "event") == event;
}

std::optional<std::string> waitForEvent(DaemonProcess& daemon, const std::string& event,
                                        const std::string& cause,
                                        std::chrono::milliseconds timeout = 5s) {
  return daemon.waitForLog(
      [&](const std::string& l) { return isEvent(l, event) && jsonField(l, "cause") == cause; },
      timeout);
}

size_t countEvents(const DaemonProcess& daemon, const std::string& event,
                   const std::optional<std::string>& request_id = std::nullopt) {
  size_t n = 0;
  for (const auto& l : daemon.logLines()) {
    if (isEvent(l, event) && (!request_id || jsonField(l, "request_id") == request_id)) ++n;
  }
  return n;
}

// What one failure line must say, built as Expected("cause", status).phase(...)... Unset
// optionals are not checked.
struct Expected {
  Expected(std::string c, int s) : cause_(std::move(c)), status_(s) {}
  Expected& event(std::string v) {
    event_ = std::move(v);
    return *this;
  }
  Expected& phase(std::string v) {
    phase_ = std::move(v);
    return *this;
  }
  Expected& origin(std::string v) {
    origin_ = std::move(v);
    return *this;
  }
  Expected& errno_name(std::string v) {
    errno_ = std::move(v);
    return *this;
  }
  // Causes without an errno write it as null, like every other absent value.
  Expected& no_errno() { return errno_name("null"); }
  Expected& reused(std::optional<bool> v) {
    reused_ = v;
    return *this;
  }
  Expected& upstream(std::optional<std::string> v) {
    upstream_ = std::move(v);
    return *this;
  }
  Expected& endpoint(std::string v) {
    endpoint_ = std::move(v);
    return *this;
  }
  // The hint quotes the endpoint (true by default when one is expected).
  Expected& hint_names_endpoint(bool v) {
    hint_names_endpoint_ = v;
    return *this;
  }

  std::string cause_;
  int status_;
  std::string event_ = "upstream_failure";
  std::optional<std::string> phase_;
  std::string origin_ = "proxy";
  std::optional<std::string> errno_;
  std::optional<bool> reused_ = false;
  std::optional<std::string> upstream_ = "app";
  std::optional<std::string> endpoint_;
  bool hint_names_endpoint_ = true;
};

void checkLine(const std::string& line, const Expected& e,
               const std::optional<std::string>& request_id) {
  INFO("log line: " << line);
  CHECK(jsonField(line, "event") == e.event_);
  CHECK(jsonField(line, "cause") == e.cause_);
  CHECK(jsonField(line, "status") == std::to_string(e.status_));
  CHECK(jsonField(line, "origin") == e.origin_);
  CHECK_FALSE(jsonField(line, "phase").value_or("").empty());
  if (e.phase_) CHECK(jsonField(line, "phase") == *e.phase_);
  if (e.errno_) CHECK(jsonField(line, "errno").value_or("") == *e.errno_);
  if (e.reused_) CHECK(jsonField(line, "reused_connection") == (*e.reused_ ? "true" : "false"));
  if (e.upstream_) CHECK(jsonField(line, "upstream") == *e.upstream_);
  if (e.endpoint_) CHECK(jsonField(line, "endpoint") == *e.endpoint_);
  const auto logged_id = jsonField(line, "request_id");
  CHECK(logged_id.has_value());
  CHECK_FALSE(logged_id.value_or("").empty());
  if (request_id) CHECK(logged_id == *request_id);
  const std::string hint = jsonField(line, "hint").value_or("");
  INFO("hint: " << hint);
  CHECK_FALSE(hint.empty());
  CHECK(startsWith(hint, std::to_string(e.status_)));  // the hint follows the status
  if (e.endpoint_ && e.hint_names_endpoint_) CHECK(contains(hint, *e.endpoint_));
}

// The single failure line of the request `request_id` (of any request when nullopt): waits for
// one with `cause`, then checks it is the only one of its event for that request.
// glibc's own UTF-8 decoder as the judge, so the check shares no code with triaged.
bool wellFormedUtf8(const std::string& text) {
  iconv_t cd = iconv_open("UTF-8", "UTF-8");
  if (cd == reinterpret_cast<iconv_t>(-1)) throw std::runtime_error("iconv_open failed");
  std::string in = text;
  std::string out(text.size() * 2 + 16, '\0');
  char* inp = in.data();
  size_t in_left = in.size();
  char* outp = out.data();
  size_t out_left = out.size();
  const size_t r = iconv(cd, &inp, &in_left, &outp, &out_left);
  iconv_close(cd);
  return r != static_cast<size_t>(-1) && in_left == 0;
}

std::string expectOneLine(DaemonProcess& daemon, const Expected& e,
                          const std::optional<std::string>& request_id) {
  auto line = waitForEvent(daemon, e.event_, e.cause_);
  INFO("daemon output:\n" << daemon.process().output());
  REQUIRE(line.has_value());
  checkLine(*line, e, request_id);
  const auto id = jsonField(*line, "request_id");
  CHECK(countEvents(daemon, e.event_, id) == 1);
  return *line;
}

// A proxy-made error reply: the status, X-Triaged-Cause, X-Request-Id, and a body naming them.
std::string checkProxyReply(const Response& r, int status, const std::string& cause) {
  INFO("response head: " << r.raw_head << "\nbody: " << r.body);
  CHECK(r.status == status);
  CHECK(r.header("X-Triaged-Cause") == cause);
  const std::string id = r.header("X-Request-Id").value_or("");
  CHECK_FALSE(id.empty());
  CHECK(contains(r.body, std::to_string(status)));
  CHECK(contains(r.body, cause));
  if (!id.empty()) CHECK(contains(r.body, id));
  return id;
}

std::string failuresSeries(const std::string& upstream, const std::string& cause) {
  return "triaged_failures_total{upstream=\"" + upstream + "\",cause=\"" + cause + "\"}";
}

std::string retriesSeries(const std::string& upstream, const std::string& cause) {
  return "triaged_retries_total{upstream=\"" + upstream + "\",cause=\"" + cause + "\"}";
}

std::string requestsSeries(const std::string& upstream, int code, const std::string& origin) {
  return "triaged_requests_total{upstream=\"" + upstream + "\",code=\"" + std::to_string(code) +
         "\",origin=\"" + origin + "\"}";
}

// What one request that ended in `cause` must move on /metrics, and nothing more: scrapes
// "after" (settling on the failure counter), then failures_total{upstream,cause} +1,
// requests_total{upstream,code,origin} +1, and no other failure, request or retry.
void checkFailureCounted(MetricsDelta& m, const std::string& upstream, const std::string& cause,
                         int code, const std::string& origin) {
  m.after(failuresSeries(upstream, cause));
  INFO("before:\n" << m.before() << "\nafter:\n" << m.latest());
  CHECK(m.delta(failuresSeries(upstream, cause)) == 1);
  CHECK(m.familyDelta("triaged_failures_total") == 1);
  CHECK(m.delta(requestsSeries(upstream, code, origin)) == 1);
  CHECK(m.familyDelta("triaged_requests_total") == 1);
  CHECK(m.familyDelta("triaged_retries_total") == 0);
}

// A stale keep-alive race absorbed by one retry: retries_total{app,stale_keepalive} +1, one
// request counted as the upstream's 200, and no failure at all.
void checkRetryCounted(MetricsDelta& m) {
  m.after(requestsSeries("app", 200, "upstream"));
  INFO("before:\n" << m.before() << "\nafter:\n" << m.latest());
  CHECK(m.delta(retriesSeries("app", "stale_keepalive")) == 1);
  CHECK(m.familyDelta("triaged_retries_total") == 1);
  CHECK(m.familyDelta("triaged_failures_total") == 0);
  CHECK(m.delta(requestsSeries("app", 200, "upstream")) == 1);
  CHECK(m.familyDelta("triaged_requests_total") == 1);
}

// triaged with [log] format = "text": the harness's DaemonProcess waits for a JSON "listening"
// line, so this starts the binary itself and reads the port from "listen=127.0.0.1:PORT".
class TextDaemon {
 public:
  explicit TextDaemon(const std::string& config_toml)
      : process_("triaged", {TRIAGED_BINARY, "--config", dir_.write("triaged.toml", config_toml)}) {
    auto line = process_.waitForLine("listening listen=", 10s);
    if (!line) throw std::runtime_error("no text listening line:\n" + process_.output());
    const auto at = line->find("listen=") + 7;
    const auto colon = line->find(':', at);
    const auto end = line->find(' ', colon);
    port_ = static_cast<uint16_t>(std::stoul(line->substr(colon + 1, end - colon - 1)));
    if (const auto admin = line->find(" admin="); admin != std::string::npos) {
      const auto admin_colon = line->find(':', admin);
      const auto admin_end = line->find(' ', admin_colon);
      admin_port_ = static_cast<uint16_t>(
          std::stoul(line->substr(admin_colon + 1, admin_end - admin_colon - 1)));
    }
  }
  ~TextDaemon() {
    process_.signal(SIGTERM);
    process_.waitExit(5s);
  }
  TextDaemon(const TextDaemon&) = delete;
  TextDaemon& operator=(const TextDaemon&) = delete;

  uint16_t port() const { return port_; }
  uint16_t adminPort() const { return admin_port_; }  // 0 when the line names no admin listener
  Process& process() { return process_; }

 private:
  TempDir dir_;
  Process process_;
  uint16_t port_ = 0;
  uint16_t admin_port_ = 0;
};

}  // namespace

// --- connecting ------------------------------------------------------------------------------

TEST_CASE("nothing listening on the endpoint: 502 connect_refused naming the address",
          "[integration][causes]") {
  RefusingPort refusing;
  const std::string endpoint = refusing.address();
  DaemonProcess daemon(basicConfig(endpoint, "retries = 0"));
  MetricsDelta metrics(daemon);
  HttpClient client(daemon.port());
  Response r = client.get("/some/path");
  const std::string id = checkProxyReply(r, 502, "connect_refused");
  // By default the internal address stays out of what the client sees.
  CHECK_FALSE(contains(r.body, endpoint));
  CHECK_FALSE(contains(r.raw_head, endpoint));

  const std::string line = expectOneLine(daemon,
                                         Expected("connect_refused", 502)
                                             .phase("connect_upstream")
                                             .errno_name("ECONNREFUSED")
                                             .endpoint(endpoint),
                                         id);
  CHECK(jsonField(line, "class") == "refused");
  CHECK(jsonField(line, "method") == "GET");
  CHECK(jsonField(line, "path") == "/some/path");
  CHECK(jsonField(line, "retried") == "false");
  checkFailureCounted(metrics, "app", "connect_refused", 502, "proxy");
}

TEST_CASE("an endpoint that drops SYNs: 504 connect_timeout after connect_timeout",
          "[integration][causes]") {
  BlackholePort blackhole;
  const std::string endpoint = blackhole.address();
  DaemonProcess daemon(basicConfig(endpoint, "connect_timeout = \"300ms\"\nretries = 0"));
  MetricsDelta metrics(daemon);
  HttpClient client(daemon.port());
  const auto start = Clock::now();
  Response r = client.get("/", {}, withTimeout(5s));
  const auto elapsed = Clock::now() - start;
  const std::string id = checkProxyReply(r, 504, "connect_timeout");
  CHECK(elapsed >= 250ms);
  CHECK(elapsed < 1500ms);
  const std::string line = expectOneLine(
      daemon, Expected("connect_timeout", 504).phase("connect_upstream").endpoint(endpoint), id);
  CHECK(jsonField(line, "class") == "timeout");
  CHECK(contains(jsonField(line, "hint").value_or(""), "300ms"));
  checkFailureCounted(metrics, "app", "connect_timeout", 504, "proxy");
}

TEST_CASE("an unreachable endpoint address: 502 connect_error with the errno",
          "[integration][causes]") {
  // TCP to a multicast address fails inside connect() with ENETUNREACH on any Linux host, with
  // or without routes, and no packet leaves the machine.
  const std::string endpoint = "224.0.0.1:80";
  DaemonProcess daemon(basicConfig(endpoint, "retries = 0"));
  MetricsDelta metrics(daemon);
  HttpClient client(daemon.port());
  Response r = client.get("/");
  const std::string id = checkProxyReply(r, 502, "connect_error");
  const std::string line = expectOneLine(daemon,
                                         Expected("connect_error", 502)
                                             .phase("connect_upstream")
                                             .errno_name("ENETUNREACH")
                                             .endpoint(endpoint),
                                         id);
  CHECK(jsonField(line, "class") == "network");
  checkFailureCounted(metrics, "app", "connect_error", 502, "proxy");
}

TEST_CASE("an endpoint name that does not resolve: 502 dns_failure naming the name",
          "[integration][causes]") {
  FakeDns dns;
  const std::string endpoint = "nosuch.invalid:80";
  DaemonProcess daemon(
      basicConfig(endpoint, "retries = 0", "dns_servers = [\"" + dns.address() + "\"]"));
  MetricsDelta metrics(daemon);
  HttpClient client(daemon.port());
  Response r = client.get("/", {}, withTimeout(10s));
  const std::string id = checkProxyReply(r, 502, "dns_failure");
  const std::string line = expectOneLine(
      daemon, Expected("dns_failure", 502).phase("connect_upstream").endpoint(endpoint), id);
  CHECK(jsonField(line, "class") == "dns");
  checkFailureCounted(metrics, "app", "dns_failure", 502, "proxy");
}

TEST_CASE("max_connections and max_pending full: 503 local_overload", "[integration][causes]") {
  Proxied p("max_connections = 1\nmax_pending = 0");
  HttpClient slow(p.daemon.port());
  REQUIRE(slow.send("GET /?delay_headers=800 HTTP/1.1\r\nHost: app\r\n\r\n"));
  REQUIRE(p.fake.waitForRequests(1).requests == 1);
  MetricsDelta metrics(p.daemon);  // the slow request is in flight, not yet counted
  HttpClient second(p.daemon.port());
  Response r = second.get("/");
  const std::string id = checkProxyReply(r, 503, "local_overload");
  const std::string line = expectOneLine(
      p.daemon, Expected("local_overload", 503).phase("connect_upstream").no_errno(), id);
  CHECK(contains(jsonField(line, "hint").value_or(""), "max_connections 1"));
  // Which limit filled up, with what was in use: the one connection busy, no waiting slot.
  CHECK(jsonField(line, "detail") ==
        "max_connections and max_pending reached: 1 of 1 connections busy and 0 of 0 waiting in "
        "this worker, rejected at once");
  CHECK(contains(jsonField(line, "hint").value_or(""), "rejected at once"));
  checkFailureCounted(metrics, "app", "local_overload", 503, "proxy");
  CHECK(slow.readResponse(withTimeout(5s)).status == 200);
  // Then the slow request completes as the upstream's 200, and is the only other thing counted.
  metrics.after(requestsSeries("app", 200, "upstream"));
  CHECK(metrics.delta(requestsSeries("app", 200, "upstream")) == 1);
  CHECK(metrics.familyDelta("triaged_requests_total") == 2);
  CHECK(metrics.familyDelta("triaged_failures_total") == 1);
}

// --- the upstream ends the exchange before a response ------------------------------------------

TEST_CASE(
    "the upstream closes a fresh connection before answering a POST: 502 "
    "upstream_closed_early, not retried",
    "[integration][causes]") {
  Proxied p;
  MetricsDelta metrics(p.daemon);
  HttpClient client(p.daemon.port());
  Response r = client.request("POST", "/?action=close_before_headers", {}, "payload");
  const std::string id = checkProxyReply(r, 502, "upstream_closed_early");
  const std::string line = expectOneLine(p.daemon,
                                         Expected("upstream_closed_early", 502)
                                             .phase("read_response_headers")
                                             .no_errno()
                                             .endpoint(p.fake.address()),
                                         id);
  CHECK(jsonField(line, "class") == "crash");
  CHECK(jsonField(line, "retried") == "false");
  CHECK(p.fake.stats().requests == 1);
  checkFailureCounted(metrics, "app", "upstream_closed_early", 502, "proxy");
}

TEST_CASE(
    "the upstream resets a fresh connection before answering a POST: 502 "
    "upstream_reset_early with ECONNRESET",
    "[integration][causes]") {
  Proxied p;
  MetricsDelta metrics(p.daemon);
  HttpClient client(p.daemon.port());
  Response r = client.request("POST", "/?action=reset_before_headers", {}, "payload");
  const std::string id = checkProxyReply(r, 502, "upstream_reset_early");
  const std::string line = expectOneLine(p.daemon,
                                         Expected("upstream_reset_early", 502)
                                             .phase("read_response_headers")
                                             .errno_name("ECONNRESET")
                                             .endpoint(p.fake.address()),
                                         id);
  CHECK(jsonField(line, "class") == "crash");
  CHECK(p.fake.stats().requests == 1);
  checkFailureCounted(metrics, "app", "upstream_reset_early", 502, "proxy");
}

// --- the stale keep-alive race -----------------------------------------------------------------

TEST_CASE(
    "a pooled connection the upstream closes as it is reused is retried: 200 and an "
    "upstream_retry stale_keepalive line",
    "[integration][causes]") {
  Proxied p;
  HttpClient client(p.daemon.port());
  REQUIRE(client.get("/?action=close_on_next_request").status == 200);
  REQUIRE(p.fake.stats().open == 1);  // pooled by triaged

  MetricsDelta metrics(p.daemon);
  Response r = client.get("/?body=second");
  CHECK(r.status == 200);
  CHECK(r.body == "second");
  CHECK_FALSE(r.hasHeader("X-Triaged-Cause"));
  const std::string id = r.header("X-Request-Id").value_or("");
  CHECK_FALSE(id.empty());

  auto retry = waitForEvent(p.daemon, "upstream_retry", "stale_keepalive");
  INFO("daemon output:\n" << p.daemon.process().output());
  REQUIRE(retry.has_value());
  CHECK(jsonField(*retry, "reused_connection") == "true");
  CHECK(jsonField(*retry, "endpoint") == p.fake.address());
  CHECK(jsonField(*retry, "upstream") == "app");
  CHECK(jsonField(*retry, "request_id") == id);
  CHECK(countEvents(p.daemon, "upstream_failure") == 0);  // the retry absorbed it
  UpstreamStats s = p.fake.stats();
  CHECK(s.connections == 2);  // the pooled one, then the fresh one of the retry
  CHECK(s.requests == 3);
  checkRetryCounted(metrics);
}

TEST_CASE(
    "a pooled connection the upstream resets as it is reused is retried from another "
    "client connection",
    "[integration][causes]") {
  Proxied p;
  {
    HttpClient first(p.daemon.port());
    REQUIRE(first.get("/?action=reset_on_next_request").status == 200);
  }
  MetricsDelta metrics(p.daemon);
  HttpClient other(p.daemon.port());
  Response r = other.get("/?body=after-reset");
  CHECK(r.status == 200);
  CHECK(r.body == "after-reset");
  auto retry = waitForEvent(p.daemon, "upstream_retry", "stale_keepalive");
  INFO("daemon output:\n" << p.daemon.process().output());
  REQUIRE(retry.has_value());
  CHECK(jsonField(*retry, "reused_connection") == "true");
  CHECK(jsonField(*retry, "errno") == "ECONNRESET");
  CHECK(jsonField(*retry, "request_id") == r.header("X-Request-Id"));
  CHECK(countEvents(p.daemon, "upstream_failure") == 0);
  CHECK(p.fake.stats().connections == 2);
  checkRetryCounted(metrics);
}

// The fake answers, keeps the connection pooled, and drops it when the next request arrives on
// it (FIN, no byte): the stale keep-alive race, made deterministic.
void poolConnectionThatDropsTheNextRequest(const Proxied& p) {
  HttpClient first(p.daemon.port());
  REQUIRE(first.get("/?action=close_on_next_request").status == 200);
}

TEST_CASE(
    "a POST caught by the stale keep-alive race is not replayed: 502, the upstream saw it once",
    "[integration][causes]") {
  // RFC 9110 9.2.2: a proxy must not automatically retry a non-idempotent request, and the
  // upstream may have applied it before it closed.
  Proxied p;
  poolConnectionThatDropsTheNextRequest(p);
  const std::string body = patternBody(20000);
  MetricsDelta metrics(p.daemon);
  HttpClient client(p.daemon.port());
  Response r = client.request("POST", "/echo", {{"Content-Type", "application/octet-stream"}}, body,
                              withTimeout(5s));
  const std::string id = checkProxyReply(r, 502, "stale_keepalive");
  const std::string line = expectOneLine(
      p.daemon, Expected("stale_keepalive", 502).phase("read_response_headers").reused(true), id);
  CHECK(jsonField(line, "method") == "POST");
  CHECK(jsonField(line, "retried") == "false");
  CHECK(contains(jsonField(line, "retry_decision").value_or(""), "not idempotent"));
  CHECK(contains(jsonField(line, "hint").value_or(""), "not retried"));
  CHECK(countEvents(p.daemon, "upstream_retry") == 0);
  // No second connection: nothing was replayed. The upstream got the GET and the POST, once.
  CHECK(p.fake.stats().connections == 1);
  CHECK(p.fake.stats().requests == 2);
  // The refusal is counted, and the race as surfaced (the client saw it).
  metrics.after("triaged_failures_total{upstream=\"app\",cause=\"stale_keepalive\"}");
  CHECK(metrics.delta("triaged_retries_refused_total{upstream=\"app\",cause=\"stale_keepalive\","
                      "reason=\"not_idempotent\"}") == 1);
  CHECK(metrics.delta("triaged_keepalive_races_total{upstream=\"app\",outcome=\"surfaced\"}") == 1);
}

TEST_CASE("a POST with an Idempotency-Key caught by the race is replayed with its whole body",
          "[integration][causes]") {
  Proxied p;
  poolConnectionThatDropsTheNextRequest(p);
  const std::string body = patternBody(20000);
  MetricsDelta metrics(p.daemon);
  HttpClient client(p.daemon.port());
  Response r = client.request(
      "POST", "/echo",
      {{"Content-Type", "application/octet-stream"}, {"Idempotency-Key", "order-8d1f"}}, body,
      withTimeout(5s));
  INFO("body: " << r.body);
  CHECK(r.status == 200);
  CHECK(contains(r.body, "method POST\n"));
  CHECK(contains(r.body, "body_bytes 20000\n"));
  CHECK(contains(r.body, "body_fnv1a " + fnv1aHex(body) + "\n"));
  auto retry = waitForEvent(p.daemon, "upstream_retry", "stale_keepalive");
  INFO("daemon output:\n" << p.daemon.process().output());
  REQUIRE(retry.has_value());
  CHECK(jsonField(*retry, "reused_connection") == "true");
  CHECK(jsonField(*retry, "method") == "POST");
  CHECK(contains(jsonField(*retry, "retry_decision").value_or(""), "replayed with its body"));
  CHECK(countEvents(p.daemon, "upstream_failure") == 0);
  CHECK(p.fake.stats().connections == 2);
  checkRetryCounted(metrics);
}

TEST_CASE(
    "with retries = 0 the stale keep-alive race is a 502 stale_keepalive on a reused "
    "connection",
    "[integration][causes]") {
  Proxied p("retries = 0");
  HttpClient client(p.daemon.port());
  REQUIRE(client.get("/?action=close_on_next_request").status == 200);
  MetricsDelta metrics(p.daemon);
  Response r = client.get("/");
  const std::string id = checkProxyReply(r, 502, "stale_keepalive");
  const std::string line = expectOneLine(p.daemon,
                                         Expected("stale_keepalive", 502)
                                             .phase("read_response_headers")
                                             .no_errno()
                                             .reused(true)
                                             .endpoint(p.fake.address()),
                                         id);
  CHECK(jsonField(line, "class") == "keepalive_race");
  CHECK(jsonField(line, "requests_on_connection") == "1");
  CHECK(jsonField(line, "connection_idle_ms") != "null");
  checkFailureCounted(metrics, "app", "stale_keepalive", 502, "proxy");
}

// --- time limits before the response head ------------------------------------------------------

TEST_CASE("no response head within response_header_timeout: 504 response_header_timeout",
          "[integration][causes]") {
  Proxied p("response_header_timeout = \"300ms\"");
  MetricsDelta metrics(p.daemon);
  HttpClient client(p.daemon.port());
  const auto start = Clock::now();
  Response r = client.get("/?delay_headers=3000", {}, withTimeout(5s));
  const auto elapsed = Clock::now() - start;
  const std::string id = checkProxyReply(r, 504, "response_header_timeout");
  CHECK(elapsed >= 250ms);
  CHECK(elapsed < 1500ms);
  expectOneLine(p.daemon,
                Expected("response_header_timeout", 504)
                    .phase("read_response_headers")
                    .no_errno()
                    .endpoint(p.fake.address()),
                id);
  checkFailureCounted(metrics, "app", "response_header_timeout", 504, "proxy");
}

TEST_CASE("the exchange outlasts request_timeout before the head: 504 request_timeout",
          "[integration][causes]") {
  Proxied p("request_timeout = \"300ms\"");
  MetricsDelta metrics(p.daemon);
  HttpClient client(p.daemon.port());
  Response r = client.get("/?delay_headers=3000", {}, withTimeout(5s));
  const std::string id = checkProxyReply(r, 504, "request_timeout");
  expectOneLine(p.daemon,
                Expected("request_timeout", 504)
                    .phase("read_response_headers")
                    .no_errno()
                    .endpoint(p.fake.address()),
                id);
  checkFailureCounted(metrics, "app", "request_timeout", 504, "proxy");
}

// --- invalid or incomplete responses -----------------------------------------------------------

TEST_CASE("an upstream answering garbage: 502 malformed_response", "[integration][causes]") {
  Proxied p;
  MetricsDelta metrics(p.daemon);
  HttpClient client(p.daemon.port());
  Response r = client.get("/?action=garbage");
  const std::string id = checkProxyReply(r, 502, "malformed_response");
  const std::string line = expectOneLine(
      p.daemon,
      Expected("malformed_response", 502).phase("read_response_headers").endpoint(p.fake.address()),
      id);
  CHECK(jsonField(line, "class") == "protocol");
  CHECK_FALSE(jsonField(line, "detail").value_or("").empty());
  checkFailureCounted(metrics, "app", "malformed_response", 502, "proxy");
}

TEST_CASE("an upstream sending Content-Length: abc: 502 malformed_response",
          "[integration][causes]") {
  Proxied p;
  MetricsDelta metrics(p.daemon);
  HttpClient client(p.daemon.port());
  Response r = client.get("/?action=bad_content_length");
  const std::string id = checkProxyReply(r, 502, "malformed_response");
  const std::string line = expectOneLine(
      p.daemon,
      Expected("malformed_response", 502).phase("read_response_headers").endpoint(p.fake.address()),
      id);
  CHECK_FALSE(jsonField(line, "detail").value_or("").empty());
  checkFailureCounted(metrics, "app", "malformed_response", 502, "proxy");
}

TEST_CASE(
    "an upstream closing inside the body: the 200 is logged as truncated_response and the "
    "client body is incomplete",
    "[integration][causes]") {
  Proxied p;
  MetricsDelta metrics(p.daemon);
  HttpClient client(p.daemon.port());
  Response r = client.get("/?action=close_mid_body&size=100000&after=5000");
  INFO("body_bytes " << r.body_bytes << " peer_closed " << r.peer_closed);
  CHECK(r.status == 200);
  CHECK_FALSE(r.complete);
  CHECK(r.peer_closed);
  CHECK(r.body_bytes <= 5000);
  CHECK_FALSE(r.hasHeader("X-Triaged-Cause"));  // the head was the upstream's
  const std::string id = r.header("X-Request-Id").value_or("");
  CHECK_FALSE(id.empty());
  const std::string line = expectOneLine(p.daemon,
                                         Expected("truncated_response", 200)
                                             .phase("stream_body")
                                             .origin("upstream")
                                             .no_errno()
                                             .endpoint(p.fake.address()),
                                         id);
  CHECK(jsonField(line, "class") == "crash");
  checkFailureCounted(metrics, "app", "truncated_response", 200, "upstream");
}

TEST_CASE("a body that stalls past body_idle_timeout: the 200 is logged as body_idle_timeout",
          "[integration][causes]") {
  Proxied p("body_idle_timeout = \"300ms\"");
  MetricsDelta metrics(p.daemon);
  HttpClient client(p.daemon.port());
  Response r = client.get("/?action=stall_body&size=100000&after=1000", {}, withTimeout(5s));
  CHECK(r.status == 200);
  CHECK_FALSE(r.complete);
  CHECK(r.peer_closed);
  CHECK_FALSE(r.timed_out);
  const std::string id = r.header("X-Request-Id").value_or("");
  CHECK_FALSE(id.empty());
  expectOneLine(p.daemon,
                Expected("body_idle_timeout", 200)
                    .phase("stream_body")
                    .origin("upstream")
                    .endpoint(p.fake.address()),
                id);
  checkFailureCounted(metrics, "app", "body_idle_timeout", 200, "upstream");
}

// --- the upstream's own 5xx, passed through -----------------------------------------------------

TEST_CASE("an upstream 500 is passed through as upstream_app_error with origin upstream",
          "[integration][causes]") {
  Proxied p;
  MetricsDelta metrics(p.daemon);
  HttpClient client(p.daemon.port());
  Response r = client.get("/?status=500&body=boom");
  CHECK(r.status == 500);
  CHECK(r.body == "boom");
  CHECK_FALSE(r.hasHeader("X-Triaged-Cause"));
  const std::string id = r.header("X-Request-Id").value_or("");
  CHECK_FALSE(id.empty());
  const std::string line = expectOneLine(
      p.daemon,
      Expected("upstream_app_error", 500).origin("upstream").no_errno().endpoint(p.fake.address()),
      id);
  CHECK(jsonField(line, "class") == "app_error");
  CHECK(contains(jsonField(line, "hint").value_or(""), id));  // find it in the app's logs
  checkFailureCounted(metrics, "app", "upstream_app_error", 500, "upstream");
}

TEST_CASE("an upstream 503 with Retry-After is passed through as upstream_unavailable",
          "[integration][causes]") {
  Proxied p;
  MetricsDelta metrics(p.daemon);
  HttpClient client(p.daemon.port());
  Response r = client.get("/?status=503&header=Retry-After:30");
  CHECK(r.status == 503);
  CHECK(r.header("Retry-After") == "30");
  CHECK_FALSE(r.hasHeader("X-Triaged-Cause"));
  const std::string id = r.header("X-Request-Id").value_or("");
  const std::string line = expectOneLine(
      p.daemon, Expected("upstream_unavailable", 503).origin("upstream").endpoint(p.fake.address()),
      id);
  CHECK(jsonField(line, "retry_after") == "30");
  CHECK(contains(jsonField(line, "hint").value_or(""), "30"));
  checkFailureCounted(metrics, "app", "upstream_unavailable", 503, "upstream");
}

TEST_CASE(
    "an nginx 502 behind the upstream is passed through as upstream_gateway_error naming "
    "nginx",
    "[integration][causes]") {
  Proxied p;
  MetricsDelta metrics(p.daemon);
  HttpClient client(p.daemon.port());
  Response r =
      client.get("/?status=502&header=Server:nginx/1.22.1&body=%3Ccenter%3Enginx%3C%2Fcenter%3E");
  CHECK(r.status == 502);
  CHECK(r.body == "<center>nginx</center>");
  CHECK_FALSE(r.hasHeader("X-Triaged-Cause"));
  const std::string id = r.header("X-Request-Id").value_or("");
  const std::string line = expectOneLine(
      p.daemon,
      Expected("upstream_gateway_error", 502).origin("upstream").endpoint(p.fake.address()), id);
  CHECK(jsonField(line, "class") == "gateway");
  const std::string hop = jsonField(line, "gateway_hop").value_or("");
  INFO("gateway_hop: " << hop);
  CHECK(contains(hop, "nginx"));
  CHECK(contains(jsonField(line, "hint").value_or(""), "nginx"));
  // The upstream's 502 is counted with origin upstream, never as the proxy's own 502.
  checkFailureCounted(metrics, "app", "upstream_gateway_error", 502, "upstream");
  CHECK(metrics.delta(requestsSeries("app", 502, "proxy")) == 0);
}

TEST_CASE("a hop named in bytes that are not UTF-8 still gives valid JSON lines and reports",
          "[integration][causes]") {
  // HTTP lets a header value carry any byte from 0x80 up (obs-text); JSON must be UTF-8, and a
  // log pipeline drops or mangles a line that is not. Here a Latin-1 "é" and a stray 0xff.
  Proxied p;
  HttpClient client(p.daemon.port());
  Response r = client.get("/?status=502&header=Server:caf%E9-proxy%FF&header=Via:1.1%20edge");
  CHECK(r.status == 502);
  const std::string id = r.header("X-Request-Id").value_or("");
  const std::string line = expectOneLine(
      p.daemon,
      Expected("upstream_gateway_error", 502).origin("upstream").endpoint(p.fake.address()), id);
  // Each byte that is not UTF-8 is U+FFFD in the evidence; what is UTF-8 stays as it was.
  const std::string hop = "Via: 1.1 edge; Server: caf\xef\xbf\xbd-proxy\xef\xbf\xbd";
  INFO("line: " << line);
  CHECK(wellFormedUtf8(line));
  CHECK(jsonField(line, "gateway_hop") == hop);
  CHECK(contains(jsonField(line, "hint").value_or(""), hop));
  const Response json = p.daemon.admin("/debug/triage");
  CHECK(json.status == 200);
  CHECK(wellFormedUtf8(json.body));
  CHECK(contains(json.body, hop));
  const Response text = p.daemon.admin("/debug/triage?format=text");
  CHECK(wellFormedUtf8(text.body));
  CHECK(contains(text.body, hop));
  CHECK_FALSE(contains(text.body, "\xe9"));
}

TEST_CASE("a 504 with Proxy-Status is passed through as upstream_gateway_error naming that hop",
          "[integration][causes]") {
  Proxied p;
  MetricsDelta metrics(p.daemon);
  HttpClient client(p.daemon.port());
  Response r = client.get("/?status=504&header=Proxy-Status:edge-lb%3Berror%3Dconnection_timeout");
  CHECK(r.status == 504);
  CHECK_FALSE(r.hasHeader("X-Triaged-Cause"));
  const std::string id = r.header("X-Request-Id").value_or("");
  const std::string line = expectOneLine(
      p.daemon,
      Expected("upstream_gateway_error", 504).origin("upstream").endpoint(p.fake.address()), id);
  const std::string hop = jsonField(line, "gateway_hop").value_or("");
  INFO("gateway_hop: " << hop);
  CHECK(contains(hop, "edge-lb"));
  CHECK(contains(hop, "connection_timeout"));
  checkFailureCounted(metrics, "app", "upstream_gateway_error", 504, "upstream");
  CHECK(metrics.delta(requestsSeries("app", 504, "proxy")) == 0);
}

// --- the client's side -------------------------------------------------------------------------

// The client goes away while triaged waits for the upstream's head, as a client whose own
// timeout fired does: with a FIN (close) or an RST (reset). The contract: client_aborted, logged
// as 499. The client saw nothing, so there is no X-Request-Id to compare; the line carries its
// own. Returns the line.
namespace {
std::string clientLeavesBeforeResponse(void (*leave)(HttpClient&)) {
  Proxied p;
  MetricsDelta metrics(p.daemon);
  HttpClient client(p.daemon.port());
  REQUIRE(client.send("GET /?delay_headers=1000 HTTP/1.1\r\nHost: app\r\n\r\n"));
  REQUIRE(p.fake.waitForRequests(1).requests == 1);
  leave(client);
  std::string line = expectOneLine(p.daemon,
                                   Expected("client_aborted", 499)
                                       .phase("read_response_headers")
                                       .origin("client")
                                       .endpoint(p.fake.address())
                                       .hint_names_endpoint(false),
                                   std::nullopt);
  CHECK(jsonField(line, "class") == "client");
  checkFailureCounted(metrics, "app", "client_aborted", 499, "client");
  return line;
}
}  // namespace

TEST_CASE("a client that closes before the response is logged as client_aborted 499",
          "[integration][causes]") {
  const std::string line = clientLeavesBeforeResponse([](HttpClient& c) { c.close(); });
  CHECK(jsonField(line, "errno") == "null");
}

TEST_CASE("a client that resets before the response is logged as client_aborted 499",
          "[integration][causes]") {
  const std::string line = clientLeavesBeforeResponse([](HttpClient& c) { c.resetConnection(); });
  CHECK(jsonField(line, "errno") == "ECONNRESET");
}

TEST_CASE("an unparseable request is answered 400 client_bad_request and logged",
          "[integration][causes]") {
  Proxied p;
  MetricsDelta metrics(p.daemon);
  HttpClient client(p.daemon.port());
  Response r = client.rawRequest("THIS IS NOT HTTP\r\n\r\n");
  const std::string id = checkProxyReply(r, 400, "client_bad_request");
  expectOneLine(p.daemon,
                Expected("client_bad_request", 400)
                    .event("request_failure")
                    .phase("read_request_headers")
                    .reused(std::nullopt)
                    .upstream(std::nullopt),
                id);
  CHECK(p.fake.stats().requests == 0);
  checkFailureCounted(metrics, "", "client_bad_request", 400, "proxy");
}

TEST_CASE("a client silent past client_header_timeout is answered 408 client_timeout",
          "[integration][causes]") {
  Proxied p("", "client_header_timeout = \"300ms\"");
  MetricsDelta metrics(p.daemon);
  HttpClient client(p.daemon.port());
  REQUIRE(client.send("GET / HTTP/1.1\r\nHost: app\r\n"));  // never finished
  Response r = client.readResponse(withTimeout(5s));
  const std::string id = checkProxyReply(r, 408, "client_timeout");
  expectOneLine(p.daemon,
                Expected("client_timeout", 408)
                    .event("request_failure")
                    .phase("read_request_headers")
                    .reused(std::nullopt)
                    .upstream(std::nullopt),
                id);
  CHECK(p.fake.stats().requests == 0);
  checkFailureCounted(metrics, "", "client_timeout", 408, "proxy");
}

// --- [log] options ------------------------------------------------------------------------------

TEST_CASE("hint_language = zh gives the hint in Chinese", "[integration][causes]") {
  RefusingPort refusing;
  DaemonProcess daemon(
      withLog(basicConfig(refusing.address(), "retries = 0"), "hint_language = \"zh\""));
  MetricsDelta metrics(daemon);
  HttpClient client(daemon.port());
  Response r = client.get("/");
  const std::string id = checkProxyReply(r, 502, "connect_refused");
  const std::string line = expectOneLine(daemon,
                                         Expected("connect_refused", 502)
                                             .phase("connect_upstream")
                                             .errno_name("ECONNREFUSED")
                                             .endpoint(refusing.address()),
                                         id);
  const std::string hint = jsonField(line, "hint").value_or("");
  INFO("hint: " << hint);
  CHECK(containsCjk(hint));
  checkFailureCounted(metrics, "app", "connect_refused", 502, "proxy");
}

TEST_CASE("format = text logs a failure as one plain line with cause=connect_refused",
          "[integration][causes]") {
  RefusingPort refusing;
  TextDaemon daemon(withLog(basicConfig(refusing.address(), "retries = 0"), "format = \"text\""));
  REQUIRE(daemon.adminPort() != 0);
  MetricsDelta metrics(daemon.adminPort());
  HttpClient client(daemon.port());
  Response r = client.get("/");
  const std::string id = checkProxyReply(r, 502, "connect_refused");
  auto line = daemon.process().waitForLine(
      [](const std::string& l) {
        return contains(l, "upstream_failure") && contains(l, "cause=connect_refused");
      },
      5s);
  INFO("output:\n" << daemon.process().output());
  REQUIRE(line.has_value());
  CHECK(line->front() != '{');
  CHECK_FALSE(contains(*line, "\"event\""));
  CHECK(contains(*line, "status=502"));
  CHECK(contains(*line, refusing.address()));
  CHECK(contains(*line, id));
  CHECK(contains(*line, "hint="));
  checkFailureCounted(metrics, "app", "connect_refused", 502, "proxy");
}

TEST_CASE("expose_details = true puts the endpoint in a proxy-made error body",
          "[integration][causes]") {
  RefusingPort refusing;
  DaemonProcess daemon(
      withLog(basicConfig(refusing.address(), "retries = 0"), "expose_details = true"));
  MetricsDelta metrics(daemon);
  HttpClient client(daemon.port());
  Response r = client.get("/");
  checkProxyReply(r, 502, "connect_refused");
  INFO("body: " << r.body);
  CHECK(contains(r.body, refusing.address()));
  checkFailureCounted(metrics, "app", "connect_refused", 502, "proxy");
}

}  // namespace triaged::test
