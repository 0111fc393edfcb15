// The failure path as real clients and upstreams meet it on a bad day (issue 20): clients that
// want the connection closed after a proxy-made answer (HTTP/1.0, Connection: close, pipelined),
// an upstream that restarts while traffic flows, one that answers early and resets with the
// request body unread, interim responses with headers, a timeout after the head went out,
// absorbed failures, a flood of bad requests, an ordinary load on the default idle pool, a
// descriptor limit, and probes and scrapers speaking sloppy HTTP to the admin port.

#include <catch2/catch.hpp>
#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "harness/daemon_process.h"
#include "harness/fake_upstream.h"
#include "harness/http_client.h"
#include "harness/metrics_scrape.h"
#include "harness/proxied.h"
#include "harness/test_support.h"

namespace triaged::test {
namespace {

std::string refusedAddress() { return "127.0.0.1:" + std::to_string(closedPort()); }

// basicConfig() with the data route limited to /api, so anything else finds no route.
std::string configWithApiRouteOnly(const std::string& upstream_address) {
  std::string c = basicConfig(upstream_address);
  const auto at = c.find("prefix = \"/\"");
  c.replace(at, 12, "prefix = \"/api\"");
  return c;
}

// The answer said it closes the connection, and did.
void expectClosedAfter(HttpClient& c, const Response& r, int status) {
  CHECK(r.status == status);
  CHECK(r.header("Connection") == "close");
  CHECK(c.waitForClose(2s));
}

size_t countLines(const DaemonProcess& d, std::string_view needle) {
  return d.logLinesContaining(needle).size();
}

// --- 1. proxy-made answers honour a client that wants to close -------------------------------

TEST_CASE("an HTTP/1.0 client gets a proxy-made 502 with Connection: close, then EOF",
          "[integration][failure_path]") {
  DaemonProcess d(basicConfig(refusedAddress(), "retries = 0"));
  HttpClient c(d.port());
  const Response r = c.rawRequest("GET /x HTTP/1.0\r\n\r\n", withTimeout(3s));
  CHECK(r.header("X-Triaged-Cause") == "connect_refused");
  expectClosedAfter(c, r, 502);
}

TEST_CASE("Connection: close gets a proxy-made 502 and the connection closed after it",
          "[integration][failure_path]") {
  DaemonProcess d(basicConfig(refusedAddress(), "retries = 0"));
  HttpClient c(d.port());
  expectClosedAfter(c, c.get("/x", {{"Connection", "close"}}, withTimeout(3s)), 502);
}

TEST_CASE("pipelined requests to a refused upstream: each answered, the last one closes",
          "[integration][failure_path]") {
  DaemonProcess d(basicConfig(refusedAddress(), "retries = 0"));
  HttpClient c(d.port());
  const std::string host = c.hostHeader();
  REQUIRE(c.send("GET /a HTTP/1.1\r\nHost: " + host + "\r\n\r\nGET /b HTTP/1.1\r\nHost: " + host +
                 "\r\nConnection: close\r\n\r\n"));
  const Response first = c.readResponse(withTimeout(3s));
  CHECK(first.status == 502);
  CHECK_FALSE(first.header("Connection") == "close");
  expectClosedAfter(c, c.readResponse(withTimeout(3s)), 502);
}

TEST_CASE("an HTTP/1.0 client with no route gets 404 and EOF", "[integration][failure_path]") {
  FakeUpstream fake;
  DaemonProcess d(configWithApiRouteOnly(fake.address()));
  HttpClient c(d.port());
  const Response r = c.rawRequest("GET /elsewhere HTTP/1.0\r\n\r\n", withTimeout(3s));
  CHECK(r.header("X-Triaged-Cause") == "no_route");
  expectClosedAfter(c, r, 404);
}

TEST_CASE("an HTTP/1.0 keep-alive client keeps its connection after a proxy-made 502",
          "[integration][failure_path]") {
  DaemonProcess d(basicConfig(refusedAddress(), "retries = 0"));
  HttpClient c(d.port());
  const Response r =
      c.rawRequest("GET /x HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", withTimeout(3s));
  CHECK(r.status == 502);
  // HTTP/1.0 closes by default: keeping the connection must be said (RFC 9112 9.3).
  CHECK(r.header("Connection") == "keep-alive");
  const Response again =
      c.rawRequest("GET /y HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", withTimeout(3s));
  CHECK(again.status == 502);
}

TEST_CASE("an HTTP/1.0 client gets a forwarded upstream answer and EOF after it",
          "[integration][failure_path]") {
  Proxied p;
  HttpClient c = p.client();
  const Response r = c.rawRequest("GET /?status=503 HTTP/1.0\r\n\r\n", withTimeout(3s));
  CHECK(r.status == 503);
  CHECK(r.complete);
  CHECK(c.waitForClose(2s));
}

// --- 2. passive health tells the true cause and lets a restarted app back in at once ----------

TEST_CASE("a single endpoint that restarts: connect_refused while it is down, 200 once it is back",
          "[integration][failure_path]") {
  auto fake = std::make_unique<FakeUpstream>();
  const std::string address = fake->address();
  DaemonProcess d(basicConfig(address));
  REQUIRE(fake->stop() == 0);
  fake.reset();

  HttpClient c(d.port());
  for (int i = 0; i < 8; ++i) {
    const Response r = c.get("/", {}, withTimeout(3s));
    CHECK(r.status == 502);
    CHECK(r.header("X-Triaged-Cause") == "connect_refused");
  }
  CHECK(d.waitForLog("\"event\":\"endpoint_down\""));
  CHECK(countLines(d, "no_healthy_endpoint") == 0);

  fake = std::make_unique<FakeUpstream>(std::vector<std::string>{}, address);
  // The first request after the app is back succeeds: nothing holds it back.
  const Response back = c.get("/", {}, withTimeout(3s));
  CHECK(back.status == 200);
  CHECK(d.waitForLog("\"event\":\"endpoint_recovered\""));
}

TEST_CASE("a marked-down endpoint is probed: its return is seen without a request",
          "[integration][failure_path]") {
  auto fake = std::make_unique<FakeUpstream>();
  const std::string address = fake->address();
  DaemonProcess d(basicConfig(address));
  REQUIRE(fake->stop() == 0);
  fake.reset();
  HttpClient c(d.port());
  for (int i = 0; i < 4; ++i) CHECK(c.get("/", {}, withTimeout(3s)).status == 502);
  REQUIRE(d.waitForLog("\"event\":\"endpoint_down\""));

  fake = std::make_unique<FakeUpstream>(std::vector<std::string>{}, address);
  // No request is sent: only triaged's probe connects.
  CHECK(d.waitForLog("\"event\":\"endpoint_recovered\"", 5s));
  CHECK(fake->stats().requests == 0);
}

TEST_CASE("a retry prefers an endpoint that is not marked down", "[integration][failure_path]") {
  FakeUpstream fake;
  const std::string refused = refusedAddress();
  std::string config = basicConfig(fake.address());
  config.replace(config.find("endpoints = ["), 13, "endpoints = [\"" + refused + "\", ");
  DaemonProcess d(config);
  HttpClient c(d.port());
  for (int i = 0; i < 20; ++i) CHECK(c.get("/", {}, withTimeout(3s)).status == 200);
  REQUIRE(d.waitForLog("\"event\":\"endpoint_down\""));
  // Counted by the daemon when each request ended (the log lines may still be on their way).
  const std::string series = "triaged_retries_total{upstream=\"app\",cause=\"connect_refused\"}";
  MetricsDelta m(d);
  CHECK(sample(m.before(), series) == 3);  // the three refusals that marked it down
  for (int i = 0; i < 20; ++i) CHECK(c.get("/", {}, withTimeout(3s)).status == 200);
  m.after();
  // Marked down: no request goes to the refusing endpoint first any more.
  CHECK(m.delta(series) == 0);
}

// --- 3. an early answer is forwarded, not lost to the reset that follows it ------------------

TEST_CASE("an upstream that answers early and resets with the body unread: the client gets it",
          "[integration][failure_path]") {
  Proxied p;
  constexpr uint64_t kBody = 8 * 1024 * 1024;
  for (const int status : {413, 200, 401}) {
    for (int i = 0; i < 4; ++i) {
      HttpClient c = p.client();
      const std::string head = "POST /?early_response=1&abort_unread=1&delay_headers=50&status=" +
                               std::to_string(status) + " HTTP/1.1\r\nHost: " + c.hostHeader() +
                               "\r\nContent-Length: " + std::to_string(kBody) + "\r\n\r\n";
      REQUIRE(c.send(head));
      c.sendStreamingBody(kBody, false, 10s);  // may stop early: the answer ends the exchange
      const Response r = c.readResponse(withTimeout(5s));
      INFO("status " << status << " try " << i << ": got " << r.status << " "
                     << r.header("X-Triaged-Cause").value_or(""));
      CHECK(r.status == status);
      CHECK(r.complete);
    }
  }
  CHECK(countLines(p.daemon, "upstream_reset_early") == 0);
}

// --- 4. interim responses keep their headers --------------------------------------------------

TEST_CASE("103 Early Hints reach the client with their Link headers",
          "[integration][failure_path]") {
  Proxied p;
  HttpClient c = p.client();
  ReadOptions interim;
  interim.return_interim = true;
  const Response hints =
      c.get("/?interim=103&interim_header=Link:%3C/style.css%3E;%20rel=preload&delay_headers=20",
            {}, interim);
  CHECK(hints.status == 103);
  CHECK(hints.header("Link") == "</style.css>; rel=preload");
  const Response final_response = c.readResponse(withTimeout(3s));
  CHECK(final_response.status == 200);
  CHECK(final_response.body == "ok\n");
}

// --- 5. a failure after the head went out is logged with the status the client saw ------------

TEST_CASE("request_timeout while a 200 body streams is logged and counted as the 200 it was",
          "[integration][failure_path]") {
  Proxied p("request_timeout = \"400ms\"");
  MetricsDelta m(p.daemon);
  HttpClient c = p.client();
  const Response r = c.get("/?size=100000&action=stall_body&after=1000", {}, withTimeout(5s));
  CHECK(r.status == 200);
  CHECK_FALSE(r.complete);
  const auto line = p.daemon.waitForLog("\"cause\":\"request_timeout\"");
  REQUIRE(line);
  CHECK(jsonField(*line, "status") == "200");
  CHECK(jsonField(*line, "origin") == "upstream");
  m.after("triaged_failures_total{upstream=\"app\",cause=\"request_timeout\"}");
  CHECK(m.delta("triaged_requests_total{upstream=\"app\",code=\"200\",origin=\"upstream\"}") == 1);
  CHECK(m.delta("triaged_requests_total{upstream=\"app\",code=\"504\",origin=\"proxy\"}") == 0);
}

// --- 6. absorbed failures carry their hint ----------------------------------------------------

TEST_CASE("an upstream_retry line carries the absorbed cause's hint",
          "[integration][failure_path]") {
  Proxied p;
  HttpClient c = p.client();
  CHECK(c.get("/?action=close_on_next_request").status == 200);
  CHECK(c.get("/").status == 200);  // the pooled connection is closed under it: absorbed
  const auto line = p.daemon.waitForLog("\"event\":\"upstream_retry\"");
  REQUIRE(line);
  CHECK(jsonField(*line, "cause") == "stale_keepalive");
  const auto hint = jsonField(*line, "hint");
  REQUIRE(hint);
  CHECK(contains(*hint, "keepalive_idle_timeout"));
}

// --- 7. client-side failures go through the failure log's limiter -----------------------------

TEST_CASE("a flood of malformed requests is rate-limited in the log, with a count",
          "[integration][failure_path]") {
  FakeUpstream fake;
  DaemonProcess d(basicConfig(fake.address(), "", "") +
                  "\n[log]\nfailure_log_burst = 5\nfailure_log_interval = \"500ms\"\n");
  for (int i = 0; i < 25; ++i) {
    HttpClient c(d.port());
    const Response r = c.rawRequest(
        "GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n");
    CHECK(r.status == 400);
  }
  const auto summary = d.waitForLog("\"cause\":\"client_bad_request\",\"suppressed\":", 3s);
  REQUIRE(summary);
  CHECK(jsonField(*summary, "suppressed") == "20");
  CHECK(countLines(d, "\"event\":\"request_failure\"") == 5);
}

// --- 8. the default idle pool keeps what an ordinary load uses --------------------------------

TEST_CASE("64 concurrent clients on the defaults reuse their upstream connections",
          "[integration][failure_path]") {
  Proxied p;
  constexpr int kClients = 64;
  constexpr int kRounds = 4;
  std::vector<std::unique_ptr<HttpClient>> clients;
  for (int i = 0; i < kClients; ++i)
    clients.push_back(std::make_unique<HttpClient>(p.daemon.port()));
  for (int round = 0; round < kRounds; ++round) {
    // Every client has a request in flight at once: the upstream holds each for 100 ms.
    std::vector<std::thread> threads;
    std::vector<int> statuses(kClients, 0);
    for (int i = 0; i < kClients; ++i) {
      threads.emplace_back([&, i] {
        statuses[static_cast<size_t>(i)] = clients[static_cast<size_t>(i)]
                                               ->get("/?delay_headers=100", {}, withTimeout(10s))
                                               .status;
      });
    }
    for (auto& t : threads) t.join();
    for (int s : statuses) CHECK(s == 200);
  }
  // One upstream connection per concurrent request, opened once and then reused.
  CHECK(p.fake.stats().connections <= kClients + 2);
}

// --- 9. a descriptor limit pauses accepting; the admin port and the accepted keep working -----

TEST_CASE("out of descriptors: the admin port still answers, nothing spins, service comes back",
          "[integration][failure_path]") {
  FakeUpstream fake;
  DaemonProcess d(basicConfig(fake.address()), {}, {},
                  {"/usr/bin/prlimit", "--nofile=128:128", "--"});
  std::vector<std::unique_ptr<HttpClient>> idle;
  for (int i = 0; i < 200; ++i) idle.push_back(std::make_unique<HttpClient>(d.port()));
  // Connections the daemon accepted before the limit are served.
  CHECK(idle.front()->get("/", {}, withTimeout(3s)).status == 200);
  for (int i = 0; i < 4; ++i) {
    const Response health = d.admin("/healthz", 2s);
    CHECK(health.status == 200);
  }
  CHECK(countLines(d, "Error from accept()") < 20);
  const std::string scrape = scrapeMetrics(d.adminPort());
  CHECK(familySum(scrape, "triaged_accept_pauses_total") >= 1);
  idle.clear();
  // The connections went away: accepting resumes and new clients are served.
  HttpClient fresh(d.port());
  CHECK(fresh.get("/", {}, withTimeout(5s)).status == 200);
}

// --- 10. the admin port speaks correct HTTP to probes and scrapers ----------------------------

TEST_CASE("admin: HEAD has no body and a pipelined GET after it reads its own answer",
          "[integration][failure_path]") {
  FakeUpstream fake;
  DaemonProcess d(basicConfig(fake.address()));
  HttpClient c(d.adminPort());
  REQUIRE(
      c.send("HEAD /healthz HTTP/1.1\r\nHost: a\r\n\r\nGET /healthz HTTP/1.1\r\nHost: a\r\n\r\n"));
  ReadOptions head;
  head.head_request = true;
  const Response h = c.readResponse(head);
  CHECK(h.status == 200);
  CHECK(h.header("Content-Length") == "3");
  const Response g = c.readResponse(withTimeout(3s));
  CHECK(g.status == 200);
  CHECK(g.body == "ok\n");
}

TEST_CASE("admin: garbage gets 400, other methods 405 with Allow, CONNECT is closed at once",
          "[integration][failure_path]") {
  FakeUpstream fake;
  DaemonProcess d(basicConfig(fake.address()));
  {
    HttpClient c(d.adminPort());
    const Response r = c.rawRequest("GARBAGE\r\n\r\n", withTimeout(3s));
    CHECK(r.status == 400);
    CHECK(c.waitForClose(2s));
  }
  {
    HttpClient c(d.adminPort());
    const Response r = c.request("POST", "/healthz", {}, "x", withTimeout(3s));
    CHECK(r.status == 405);
    CHECK(r.header("Allow") == "GET, HEAD");
  }
  {
    HttpClient c(d.adminPort());
    const Response r = c.rawRequest(
        "CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n", withTimeout(3s));
    CHECK(r.status == 405);
    CHECK(r.complete);
    CHECK(c.waitForClose(2s));
  }
}

}  // namespace
}  // namespace triaged::test
