// /metrics, /healthz, /readyz through the real binary: counters move by exactly what the
// requests did, and a proxy-made 502 is told apart from an upstream's own 502.

#include <catch2/catch.hpp>
#include <csignal>
#include <string>

#include "harness/daemon_process.h"
#include "harness/fake_upstream.h"
#include "harness/http_client.h"
#include "harness/metrics_scrape.h"

namespace triaged::test {
namespace {

std::string scrape(const DaemonProcess& d) {
  Response r = d.admin("/metrics");
  REQUIRE(r.status == 200);
  CHECK(r.header("Content-Type").value_or("").find("text/plain") != std::string::npos);
  return r.body;
}

}  // namespace

TEST_CASE("metrics separate the proxy's own 502 from an upstream's 502", "[integration][metrics]") {
  FakeUpstream fake;
  const std::string closed = "127.0.0.1:" + std::to_string(closedPort());
  DaemonProcess daemon(
      "[server]\nlisten = \"127.0.0.1:0\"\nadmin_listen = \"127.0.0.1:0\"\n"
      "[[upstream]]\nname = \"app\"\nendpoints = [\"" +
      fake.address() +
      "\"]\n"
      "[[upstream]]\nname = \"gone\"\nendpoints = [\"" +
      closed +
      "\"]\nretries = 0\n"
      "[[route]]\nprefix = \"/\"\nupstream = \"app\"\n"
      "[[route]]\nprefix = \"/gone\"\nupstream = \"gone\"\n");
  const std::string before = scrape(daemon);
  CHECK(sample(before, R"(triaged_failures_total{upstream="app",cause="connect_refused"})") == 0);

  HttpClient client(daemon.port());
  CHECK(client.get("/?status=502").status == 502);
  CHECK(client.get("/?status=200").status == 200);
  CHECK(client.get("/?status=200").status == 200);
  HttpClient other(daemon.port());
  CHECK(other.get("/gone/x").status == 502);

  const std::string after = scrape(daemon);
  CHECK(sample(after, R"(triaged_requests_total{upstream="app",code="502",origin="upstream"})") ==
        1);
  CHECK(sample(after, R"(triaged_requests_total{upstream="app",code="200",origin="upstream"})") ==
        2);
  CHECK(sample(after, R"(triaged_requests_total{upstream="gone",code="502",origin="proxy"})") == 1);
  CHECK(sample(after, R"(triaged_failures_total{upstream="app",cause="upstream_gateway_error"})") ==
        1);
  CHECK(sample(after, R"(triaged_failures_total{upstream="gone",cause="connect_refused"})") == 1);
  CHECK(sample(after, R"(triaged_request_duration_seconds_count{upstream="app"})") == 3);
  CHECK(sample(after, R"(triaged_upstream_connections{upstream="app",state="idle"})") == 1);
  CHECK(sample(after, R"(triaged_requests_in_flight{upstream="app"})") == 0);
  CHECK(sample(after, R"(triaged_build_info{version="0.1.0"})") == 1);
  CHECK(sample(after, "process_resident_memory_bytes") > 1024 * 1024);
  CHECK(after.find("# TYPE triaged_request_duration_seconds histogram") != std::string::npos);
  CHECK(after.find("# TYPE triaged_failures_total counter") != std::string::npos);
}

TEST_CASE("a truncated 200 counts as a failure", "[integration][metrics]") {
  FakeUpstream fake;
  DaemonProcess daemon(basicConfig(fake.address()));
  HttpClient client(daemon.port());
  Response r = client.get("/?action=close_mid_body&size=100000&after=1000");
  CHECK(r.status == 200);
  CHECK_FALSE(r.complete);
  const std::string m = scrape(daemon);
  CHECK(sample(m, R"(triaged_failures_total{upstream="app",cause="truncated_response"})") == 1);
  CHECK(sample(m, R"(triaged_requests_total{upstream="app",code="200",origin="upstream"})") == 1);
}

TEST_CASE("a retried keep-alive race counts the retry and no failure", "[integration][metrics]") {
  FakeUpstream fake;
  DaemonProcess daemon(basicConfig(fake.address()));
  HttpClient client(daemon.port());
  CHECK(client.get("/?action=close_on_next_request").status == 200);
  CHECK(client.get("/").status == 200);
  const std::string m = scrape(daemon);
  CHECK(sample(m, R"(triaged_retries_total{upstream="app",cause="stale_keepalive"})") == 1);
  CHECK(sample(m, R"(triaged_failures_total{upstream="app",cause="stale_keepalive"})") == 0);
  CHECK(sample(m, R"(triaged_requests_total{upstream="app",code="200",origin="upstream"})") == 2);
}

TEST_CASE("client errors are counted with origin proxy and no upstream", "[integration][metrics]") {
  FakeUpstream fake;
  DaemonProcess daemon(basicConfig(fake.address()));
  HttpClient client(daemon.port());
  client.send("GET / HTTP/1.1\r\n\r\n");  // no Host
  CHECK(client.readResponse().status == 400);
  const std::string m = scrape(daemon);
  CHECK(sample(m, R"(triaged_requests_total{upstream="",code="400",origin="proxy"})") == 1);
  CHECK(sample(m, R"(triaged_failures_total{upstream="",cause="client_bad_request"})") == 1);
}

TEST_CASE("readyz turns 503 while draining and healthz stays 200", "[integration][metrics]") {
  FakeUpstream fake;
  DaemonProcess daemon(basicConfig(fake.address(), "", "drain_timeout = \"5s\""));
  CHECK(daemon.admin("/healthz").status == 200);
  CHECK(daemon.admin("/readyz").status == 200);
  CHECK(daemon.admin("/nope").status == 404);
  Response config = daemon.admin("/config");
  CHECK(config.status == 200);
  CHECK(config.body.find("\"upstreams\"") != std::string::npos);
  CHECK(config.body.find(fake.address()) != std::string::npos);
  // A slow request keeps the daemon draining long enough to look at it.
  HttpClient client(daemon.port());
  REQUIRE(client.send("GET /?delay_headers=1500 HTTP/1.1\r\nHost: x\r\n\r\n"));
  fake.waitForRequests(1, std::chrono::seconds(5));
  REQUIRE(daemon.process().signal(SIGTERM));
  REQUIRE(daemon.waitForLog("\"event\":\"draining\"", std::chrono::seconds(5)));
  CHECK(daemon.admin("/readyz").status == 503);
  CHECK(daemon.admin("/healthz").status == 200);
  CHECK(client.readResponse().status == 200);
  CHECK(daemon.stop() == 0);
}

}  // namespace triaged::test

namespace triaged::test {

TEST_CASE("debug/triage groups a scripted burst by upstream and cause",
          "[integration][metrics][triage]") {
  FakeUpstream fake;
  DaemonProcess daemon(basicConfig(fake.address()));
  HttpClient client(daemon.port());
  for (int i = 0; i < 3; ++i) CHECK(client.get("/?status=500").status == 500);
  Response last = client.get("/?status=503&header=Retry-After:5");
  CHECK(last.status == 503);

  Response json = daemon.admin("/debug/triage");
  REQUIRE(json.status == 200);
  CHECK(json.body.find("\"upstream\": \"app\", \"cause\": \"upstream_app_error\"") !=
        std::string::npos);
  CHECK(json.body.find("\"count_1m\": 3") != std::string::npos);
  CHECK(json.body.find("\"cause\": \"upstream_unavailable\"") != std::string::npos);
  CHECK(json.body.find(last.header("X-Request-Id").value_or("missing")) != std::string::npos);
  CHECK(json.body.find("\"top_endpoint\": \"" + fake.address() + "\"") != std::string::npos);
  CHECK(json.body.find("\"episodes\": [") != std::string::npos);
  CHECK(json.body.find("upstream_app_error on app since") != std::string::npos);

  Response text = daemon.admin("/debug/triage?format=text");
  REQUIRE(text.status == 200);
  CHECK(text.body.find("UPSTREAM") != std::string::npos);
  CHECK(text.body.find("upstream_app_error") != std::string::npos);
  CHECK(text.body.find("Hints") != std::string::npos);
}

}  // namespace triaged::test
