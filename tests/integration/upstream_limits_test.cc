// What triaged does when an upstream cannot take a request: passive health marking a refusing
// endpoint down, retries absorbing refusals when another endpoint exists, its own connection
// limits (max_connections / max_pending / pending_timeout), names that do not resolve, and the
// upstream keep-alive pool's own idle timeout.

#include <catch2/catch.hpp>
#include <chrono>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "harness/daemon_process.h"
#include "harness/fake_dns.h"
#include "harness/fake_upstream.h"
#include "harness/http_client.h"
#include "harness/metrics_scrape.h"
#include "harness/test_support.h"

namespace triaged::test {
namespace {

using Clock = std::chrono::steady_clock;

std::string closedAddress() { return "127.0.0.1:" + std::to_string(closedPort()); }

// The first log line of `event` whose `cause` is `cause`.
std::optional<std::string> waitForEvent(DaemonProcess& daemon, const std::string& event,
                                        const std::string& cause) {
  return daemon.waitForLog([&](const std::string& l) {
    return jsonField(l, "event") == event && jsonField(l, "cause") == cause;
  });
}

// One fake upstream and one triaged routing everything to it.
struct Proxied {
  explicit Proxied(const std::string& extra_upstream_keys = "",
                   std::vector<std::string> fake_args = {})
      : fake(std::move(fake_args)), daemon(basicConfig(fake.address(), extra_upstream_keys)) {}

  FakeUpstream fake;
  DaemonProcess daemon;
};

}  // namespace

TEST_CASE("an endpoint refusing three connections is marked down and still tried: 502, not 503",
          "[integration][limits]") {
  const std::string endpoint = closedAddress();
  DaemonProcess daemon(basicConfig(endpoint, "retries = 0"));
  for (int i = 0; i < 3; ++i) {
    HttpClient client(daemon.port());
    Response r = client.get("/");
    INFO("request " << i + 1);
    CHECK(r.status == 502);
    CHECK(r.header("X-Triaged-Cause") == "connect_refused");
  }
  auto down = daemon.waitForLog("\"event\":\"endpoint_down\"");
  REQUIRE(down.has_value());
  CHECK(jsonField(*down, "upstream") == "app");
  CHECK(jsonField(*down, "endpoint") == endpoint);
  CHECK(jsonField(*down, "cause") == "connect_refused");
  CHECK(contains(jsonField(*down, "hint").value_or(""), endpoint));

  // Marked down, but the only endpoint: the request tries it anyway and tells the true cause,
  // with the endpoint and the errno, instead of a 503 that hides it.
  HttpClient client(daemon.port());
  Response r = client.get("/");
  CHECK(r.status == 502);
  CHECK(r.header("X-Triaged-Cause") == "connect_refused");
  auto line = daemon.waitForLog([](const std::string& l) {
    return jsonField(l, "cause") == "connect_refused" && jsonField(l, "errno") == "ECONNREFUSED";
  });
  REQUIRE(line.has_value());
  CHECK(jsonField(*line, "endpoint") == endpoint);
}

TEST_CASE("a retry on the only endpoint, marked down, tries it again and reports both attempts",
          "[integration][limits]") {
  const std::string endpoint = closedAddress();
  DaemonProcess daemon(basicConfig(endpoint, "retries = 1"));
  for (int i = 0; i < 3; ++i) {
    HttpClient client(daemon.port());
    CHECK(client.get("/").status == 502);
  }
  REQUIRE(daemon.waitForLog("\"event\":\"endpoint_down\""));
  HttpClient client(daemon.port());
  const Response r = client.get("/");
  CHECK(r.status == 502);
  const std::string id = r.header("X-Request-Id").value_or("");
  auto line = daemon.waitForLog([&id](const std::string& l) {
    return jsonField(l, "event") == "upstream_failure" && jsonField(l, "request_id") == id;
  });
  REQUIRE(line.has_value());
  CHECK(jsonField(*line, "cause") == "connect_refused");
  CHECK(jsonField(*line, "endpoint") == endpoint);
  CHECK(jsonField(*line, "absorbed_cause") == "connect_refused");
  CHECK(jsonField(*line, "attempt_chain") == "connect_refused@" + endpoint +
                                                 " ECONNREFUSED -> connect_refused@" + endpoint +
                                                 " ECONNREFUSED");
}

TEST_CASE("a refused connection is retried on the other endpoint and the client gets 200",
          "[integration][limits]") {
  FakeUpstream healthy;
  const std::string refusing = closedAddress();
  std::string config = basicConfig(refusing);
  // basicConfig writes one endpoint: add the healthy one to the same list.
  const std::string one = "endpoints = [\"" + refusing + "\"]";
  config.replace(config.find(one), one.size(),
                 "endpoints = [\"" + refusing + "\", \"" + healthy.address() + "\"]");
  DaemonProcess daemon(config);
  for (int i = 0; i < 4; ++i) {
    HttpClient client(daemon.port());
    Response r = client.get("/?body=ok");
    INFO("request " << i + 1);
    CHECK(r.status == 200);
    CHECK(r.body == "ok");
  }
  CHECK(healthy.stats().requests == 4);
  auto retry = waitForEvent(daemon, "upstream_retry", "connect_refused");
  REQUIRE(retry.has_value());
  CHECK(jsonField(*retry, "endpoint") == refusing);
  CHECK(jsonField(*retry, "errno") == "ECONNREFUSED");
  CHECK(daemon.logLinesContaining("\"event\":\"upstream_failure\"").empty());
}

TEST_CASE("with max_connections reached and no pending slot a request gets 503 local_overload",
          "[integration][limits]") {
  Proxied p("max_connections = 1\nmax_pending = 0");
  HttpClient slow(p.daemon.port());
  auto start = Clock::now();
  REQUIRE(slow.send("GET /?delay_headers=1500 HTTP/1.1\r\nHost: app\r\n\r\n"));
  REQUIRE(p.fake.waitForRequests(1).requests == 1);  // the only connection is busy

  HttpClient second(p.daemon.port());
  Response r = second.get("/");
  auto answered = Clock::now() - start;
  CHECK(r.status == 503);
  CHECK(r.header("X-Triaged-Cause") == "local_overload");
  CHECK(answered < 1000ms);  // well before the slow response (1500 ms) is due

  Response first = slow.readResponse(withTimeout(5s));
  CHECK(first.status == 200);
  CHECK(Clock::now() - start >= 1400ms);
  auto line = waitForEvent(p.daemon, "upstream_failure", "local_overload");
  REQUIRE(line.has_value());
  CHECK(jsonField(*line, "status") == "503");
  CHECK(jsonField(*line, "class") == "overload");
  CHECK(jsonField(*line, "origin") == "proxy");
  CHECK(p.fake.stats().requests == 1);
}

TEST_CASE("a pending request that waits longer than pending_timeout gets 503 local_overload",
          "[integration][limits]") {
  Proxied p("max_connections = 1\nmax_pending = 4\npending_timeout = \"300ms\"");
  HttpClient slow(p.daemon.port());
  REQUIRE(slow.send("GET /?delay_headers=1500 HTTP/1.1\r\nHost: app\r\n\r\n"));
  REQUIRE(p.fake.waitForRequests(1).requests == 1);

  HttpClient queued(p.daemon.port());
  auto start = Clock::now();
  Response r = queued.get("/", {}, withTimeout(5s));
  auto waited = Clock::now() - start;
  CHECK(r.status == 503);
  CHECK(r.header("X-Triaged-Cause") == "local_overload");
  CHECK(waited >= 250ms);
  CHECK(waited < 1200ms);

  CHECK(slow.readResponse(withTimeout(5s)).status == 200);
  auto line = waitForEvent(p.daemon, "upstream_failure", "local_overload");
  REQUIRE(line.has_value());
  // Not the full-queue rejection: the wait ran out, and the hint says so.
  const std::string detail =
      "waited pending_timeout 300ms and none of this worker's 1 connections came free";
  CHECK(jsonField(*line, "detail") == detail);
  CHECK(jsonField(*line, "hint").value_or("").find(detail) != std::string::npos);
  CHECK(p.fake.stats().requests == 1);
}

TEST_CASE("a pending request gets the connection once the request ahead of it finishes",
          "[integration][limits]") {
  Proxied p("max_connections = 1\nmax_pending = 4\npending_timeout = \"2s\"");
  HttpClient first(p.daemon.port());
  REQUIRE(first.send("GET /?delay_headers=200&body=first HTTP/1.1\r\nHost: app\r\n\r\n"));
  REQUIRE(p.fake.waitForRequests(1).requests == 1);

  HttpClient queued(p.daemon.port());
  Response r = queued.get("/?body=second", {}, withTimeout(5s));
  CHECK(r.status == 200);
  CHECK(r.body == "second");
  CHECK(first.readResponse().body == "first");
  UpstreamStats s = p.fake.stats();
  CHECK(s.requests == 2);
  CHECK(s.connections == 1);  // the queued request waited for the one connection allowed
  CHECK(p.daemon.logLinesContaining("\"event\":\"upstream_failure\"").empty());
}

TEST_CASE("an endpoint name that does not resolve gets 502 dns_failure", "[integration][limits]") {
  FakeDns dns;
  DaemonProcess daemon(
      basicConfig("nosuch.invalid:80", "", "dns_servers = [\"" + dns.address() + "\"]"));
  HttpClient client(daemon.port());
  Response r = client.get("/", {}, withTimeout(10s));
  CHECK(r.status == 502);
  CHECK(r.header("X-Triaged-Cause") == "dns_failure");
  CHECK(r.hasHeader("X-Request-Id"));
  CHECK(dns.queries() >= 1);
  auto line = waitForEvent(daemon, "upstream_failure", "dns_failure");
  REQUIRE(line.has_value());
  CHECK(jsonField(*line, "status") == "502");
  CHECK(jsonField(*line, "class") == "dns");
  CHECK(jsonField(*line, "origin") == "proxy");
  CHECK(jsonField(*line, "endpoint") == "nosuch.invalid:80");
  CHECK(daemon.waitForLog("\"event\":\"dns_failure\"").has_value());

  // The daemon keeps serving: the next request is answered the same way.
  HttpClient again(daemon.port());
  Response next = again.get("/", {}, withTimeout(10s));
  CHECK(next.status == 502);
  CHECK(next.header("X-Triaged-Cause") == "dns_failure");
  CHECK(daemon.process().running());
  CHECK(daemon.admin("/healthz").status == 200);
}

TEST_CASE("an idle pooled upstream connection is closed after keepalive_idle_timeout",
          "[integration][limits]") {
  Proxied p("keepalive_idle_timeout = \"200ms\"", {"--keepalive-timeout", "30000"});
  HttpClient client(p.daemon.port());
  REQUIRE(client.get("/?body=one").status == 200);
  UpstreamStats s = p.fake.waitForOpen(0, 2s);
  CHECK(s.open == 0);
  CHECK(s.connections == 1);

  Response r = client.get("/?body=two");
  CHECK(r.status == 200);
  CHECK(r.body == "two");
  CHECK(p.fake.stats().connections == 2);
  CHECK(p.daemon.logLinesContaining("\"event\":\"upstream_failure\"").empty());
}

TEST_CASE("keepalive_idle_timeout counts from a pooled connection's last use, not its first",
          "[integration][limits]") {
  // The idle timer is armed once and re-armed when it fires early: a connection used again
  // before the first timeout runs out must stay open for a whole timeout after that use.
  Proxied p("keepalive_idle_timeout = \"1s\"", {"--keepalive-timeout", "30000"});
  HttpClient client(p.daemon.port());
  REQUIRE(client.get("/?body=one").status == 200);
  std::this_thread::sleep_for(600ms);
  Response r = client.get("/?body=two");
  REQUIRE(r.status == 200);
  CHECK(r.body == "two");
  std::this_thread::sleep_for(500ms);  // 1.1 s after the first use, 0.5 s after the last
  UpstreamStats s = p.fake.stats();
  CHECK(s.connections == 1);
  CHECK(s.open == 1);
  s = p.fake.waitForOpen(0, 3s);
  CHECK(s.open == 0);
  CHECK(s.connections == 1);
  CHECK(s.requests == 2);
}

namespace {

// Polls `series` on triaged's /metrics until it reads `want`, or `timeout` passes; returns the
// last reading.
double waitForSample(const DaemonProcess& daemon, const std::string& series, double want,
                     std::chrono::milliseconds timeout) {
  const auto until = std::chrono::steady_clock::now() + timeout;
  double got = sample(scrapeMetrics(daemon.adminPort()), series);
  while (got != want && std::chrono::steady_clock::now() < until) {
    std::this_thread::sleep_for(20ms);
    got = sample(scrapeMetrics(daemon.adminPort()), series);
  }
  return got;
}

// triaged's upstream connection gauge for `state` ("active" or "idle") of upstream "app".
double waitForConnections(const DaemonProcess& daemon, const std::string& state, double want,
                          std::chrono::milliseconds timeout) {
  return waitForSample(daemon,
                       R"(triaged_upstream_connections{upstream="app",state=")" + state + R"("})",
                       want, timeout);
}

// triaged_upstream_drains_total of upstream "app" for `result`.
double waitForDrains(const DaemonProcess& daemon, const std::string& result, double want,
                     std::chrono::milliseconds timeout = 100ms) {
  return waitForSample(
      daemon, R"(triaged_upstream_drains_total{upstream="app",result=")" + result + R"("})", want,
      timeout);
}

}  // namespace

TEST_CASE("a client that leaves before its response ends does not cost the upstream connection",
          "[integration][limits]") {
  // The rest of the response is read and dropped and the connection pooled, so the next request
  // does not have to connect again.
  Proxied p("", {"--keepalive-timeout", "30000"});
  HttpClient client(p.daemon.port());
  SECTION("it closes while the head is still owed") {
    REQUIRE(client.send("GET /?delay_headers=300&size=20000 HTTP/1.1\r\nHost: app\r\n\r\n"));
    REQUIRE(p.fake.waitForRequests(1).requests == 1);
    client.close();
  }
  SECTION("it resets in the middle of a 200 KiB body (under the drain limit)") {
    REQUIRE(client.send("GET /?size=204800&chunk_delay=50 HTTP/1.1\r\nHost: app\r\n\r\n"));
    REQUIRE(p.fake.waitForRequests(1).requests == 1);
    std::this_thread::sleep_for(80ms);  // the head and the first pieces are on their way
    client.resetConnection();
  }
  REQUIRE(p.daemon.waitForLog("\"cause\":\"client_aborted\"").has_value());
  CHECK(waitForConnections(p.daemon, "idle", 1, 5s) == 1);
  CHECK(waitForDrains(p.daemon, "pooled", 1) == 1);
  CHECK(waitForDrains(p.daemon, "timeout", 0) == 0);

  HttpClient next(p.daemon.port());
  Response r = next.get("/?body=next");
  CHECK(r.status == 200);
  CHECK(r.body == "next");
  UpstreamStats s = p.fake.stats();
  CHECK(s.connections == 1);
  CHECK(s.requests == 2);
}

TEST_CASE("a response a departed client leaves too long or too late is not drained",
          "[integration][limits]") {
  Proxied p("", {"--keepalive-timeout", "30000"});
  SECTION("more than the drain limit still to come: the connection is closed at once") {
    HttpClient client(p.daemon.port());
    REQUIRE(client.send("GET /?size=4194304&delay_body=3000 HTTP/1.1\r\nHost: app\r\n\r\n"));
    REQUIRE(client.readBytes(12) == "HTTP/1.1 200");  // the head, announcing 4 MiB, has come
    client.close();
    // Well before the body starts, and before the 2 s a drain could last. (The fake upstream
    // answers a half-closed peer in full, so its own count of open connections would lag.)
    CHECK(waitForConnections(p.daemon, "active", 0, 1s) == 0);
    CHECK(waitForDrains(p.daemon, "too_large", 1) == 1);  // not drained: known too long
  }
  SECTION("no head within the drain window: the connection is closed when it ends") {
    HttpClient client(p.daemon.port());
    REQUIRE(client.send("GET /?delay_headers=4000 HTTP/1.1\r\nHost: app\r\n\r\n"));
    REQUIRE(p.fake.waitForRequests(1).requests == 1);
    client.close();
    REQUIRE(p.daemon.waitForLog("\"cause\":\"client_aborted\"").has_value());
    CHECK(waitForConnections(p.daemon, "active", 1, 100ms) == 1);  // still draining
    std::this_thread::sleep_for(1s);
    CHECK(waitForConnections(p.daemon, "active", 1, 100ms) == 1);
    CHECK(waitForConnections(p.daemon, "active", 0, 3s) == 0);  // the 2 s window ended
    CHECK(waitForDrains(p.daemon, "timeout", 1) == 1);
    CHECK(waitForDrains(p.daemon, "too_large", 0) == 0);
  }
  CHECK(waitForDrains(p.daemon, "pooled", 0) == 0);
  CHECK(waitForConnections(p.daemon, "idle", 0, 100ms) == 0);
  HttpClient next(p.daemon.port());
  CHECK(next.get("/?body=next").status == 200);
  CHECK(p.fake.stats().connections == 2);
}

TEST_CASE("a drain that cannot pool its connection closes it and counts why",
          "[integration][limits]") {
  Proxied p("", {"--keepalive-timeout", "30000"});
  std::string script;
  std::string result;
  SECTION("the response asks to close the connection") {
    script = "close=1";
    result = "not_reusable";
  }
  SECTION("the upstream resets the connection instead of answering") {
    script = "action=reset_before_headers";
    result = "upstream_closed";
  }
  SECTION("the upstream answers with something that is not HTTP") {
    script = "action=garbage";
    result = "malformed";
  }
  HttpClient client(p.daemon.port());
  REQUIRE(client.send("GET /?delay_headers=300&" + script + " HTTP/1.1\r\nHost: app\r\n\r\n"));
  REQUIRE(p.fake.waitForRequests(1).requests == 1);
  client.close();
  REQUIRE(p.daemon.waitForLog("\"cause\":\"client_aborted\"").has_value());
  CHECK(waitForDrains(p.daemon, result, 1, 3s) == 1);
  CHECK(waitForConnections(p.daemon, "active", 0, 1s) == 0);
  CHECK(waitForConnections(p.daemon, "idle", 0, 100ms) == 0);
  CHECK(waitForDrains(p.daemon, "pooled", 0) == 0);
  // Only the client_aborted: what the drain met afterwards answers nobody and is no failure.
  CHECK(familySum(scrapeMetrics(p.daemon.adminPort()), "triaged_failures_total") == 1);
}

TEST_CASE("with max_idle_connections = 0 no upstream connection is kept for reuse",
          "[integration][limits]") {
  Proxied p("max_idle_connections = 0", {"--keepalive-timeout", "30000"});
  HttpClient client(p.daemon.port());
  REQUIRE(client.get("/?body=one").status == 200);
  CHECK(p.fake.waitForOpen(0, 2s).open == 0);
  REQUIRE(client.get("/?body=two").status == 200);
  UpstreamStats s = p.fake.waitForOpen(0, 2s);
  CHECK(s.open == 0);
  CHECK(s.connections == 2);
  CHECK(s.requests == 2);

  // A drained response ends with nowhere to pool its connection.
  REQUIRE(client.send("GET /?delay_headers=300 HTTP/1.1\r\nHost: app\r\n\r\n"));
  REQUIRE(p.fake.waitForRequests(3).requests == 3);
  client.close();
  CHECK(waitForDrains(p.daemon, "pool_full", 1, 3s) == 1);
  CHECK(waitForConnections(p.daemon, "active", 0, 1s) == 0);
}

}  // namespace triaged::test
