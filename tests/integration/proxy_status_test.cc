// A failure followed across hops (issue 23): RFC 9209 Proxy-Status on every response triaged
// makes and after an upstream's own on a passed-on 5xx; the W3C trace id of the request in the
// failure line and /debug/triage (and a trace started when configured so); and an OpenMetrics
// exemplar on triaged_failures_total naming the latest failure's request and trace.

#include <catch2/catch.hpp>
#include <string>
#include <vector>

#include "harness/daemon_process.h"
#include "harness/fake_upstream.h"
#include "harness/http_client.h"
#include "harness/metrics_scrape.h"
#include "harness/proxied.h"
#include "harness/test_support.h"

namespace triaged::test {
namespace {

constexpr std::string_view kTraceParent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
constexpr std::string_view kTraceId = "4bf92f3577b34da6a3ce929d0e0e4736";

std::vector<std::string> allHeaders(const Response& r, std::string_view name) {
  std::vector<std::string> out;
  for (const auto& [n, v] : r.headers) {
    if (equalsIgnoreCase(n, name)) out.push_back(v);
  }
  return out;
}

TEST_CASE("proxy-made responses carry Proxy-Status with the RFC 9209 type and the cause",
          "[integration][proxy_status]") {
  FakeUpstream fake;
  DaemonProcess d(configWithRefusedUpstream(fake.address()));  // /gone refuses
  HttpClient c(d.port());
  const Response refused = c.get("/gone/x", {}, withTimeout(3s));
  CHECK(refused.status == 502);
  CHECK(refused.header("Proxy-Status") ==
        "triaged; error=connection_refused; details=\"connect_refused\"");
  HttpClient bad(d.port());
  const Response r400 = bad.rawRequest(
      "GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n");
  CHECK(r400.status == 400);
  CHECK(r400.header("Proxy-Status") ==
        "triaged; error=http_request_error; details=\"client_bad_request\"");
}

TEST_CASE("a passed-on 502 keeps the upstream's Proxy-Status and gets triaged's after it",
          "[integration][proxy_status]") {
  Proxied p;
  HttpClient c = p.client();
  const Response r =
      c.get("/?status=502&header=Proxy-Status:edge-lb%3B%20error%3Dconnection_timeout");
  CHECK(r.status == 502);
  const auto members = allHeaders(r, "Proxy-Status");
  REQUIRE(members.size() == 2);
  CHECK(members[0] == "edge-lb; error=connection_timeout");
  CHECK(members[1] == "triaged; received-status=502; details=\"upstream_gateway_error\"");
  // A 2xx passes with no member of ours.
  CHECK(allHeaders(c.get("/"), "Proxy-Status").empty());
}

TEST_CASE("a client's traceparent goes on unchanged and its trace id into the failure line",
          "[integration][proxy_status]") {
  FakeUpstream fake;
  DaemonProcess d(configWithRefusedUpstream(fake.address()));
  HttpClient c(d.port());
  const Response echo = c.get("/echo", {{"traceparent", std::string(kTraceParent)}});
  CHECK(contains(echo.body, "traceparent: " + std::string(kTraceParent)));
  const Response r = c.get("/gone/x", {{"traceparent", std::string(kTraceParent)}});
  CHECK(r.status == 502);
  const auto line = d.waitForLog("\"cause\":\"connect_refused\"");
  REQUIRE(line);
  CHECK(jsonField(*line, "trace_id") == std::string(kTraceId));
  const Response triage = d.admin("/debug/triage");
  CHECK(contains(triage.body, "\"example_trace_id\": \"" + std::string(kTraceId) + "\""));

  // OpenMetrics, as Prometheus asks for it: the failures series names that request and trace.
  HttpClient scrape(d.adminPort());
  const Response om = scrape.get(
      "/metrics", {{"Accept", "application/openmetrics-text;version=1.0.0,text/plain;q=0.5"}});
  CHECK(om.status == 200);
  CHECK(contains(om.header("Content-Type").value_or(""), "application/openmetrics-text"));
  const std::string exemplar =
      "triaged_failures_total{upstream=\"gone\",cause=\"connect_refused\"} 1 # "
      "{request_id=\"" +
      r.header("X-Request-Id").value_or("?") + "\",trace_id=\"" + std::string(kTraceId) + "\"} 1 ";
  CHECK(contains(om.body, exemplar));
  CHECK(contains(om.body, "# TYPE triaged_failures counter\n"));
  CHECK(om.body.size() >= 6);
  CHECK(om.body.substr(om.body.size() - 6) == "# EOF\n");
  // The Prometheus text format is unchanged for everyone else.
  const std::string text = scrapeMetrics(d.adminPort());
  CHECK(contains(text, "# TYPE triaged_failures_total counter"));
  CHECK_FALSE(contains(text, "# EOF"));
}

TEST_CASE("trace_context = start gives a request without one a traceparent",
          "[integration][proxy_status]") {
  FakeUpstream fake;
  DaemonProcess d(basicConfig(fake.address()));
  DaemonProcess started(basicConfig(fake.address(), "", "trace_context = \"start\""));
  HttpClient c(started.port());
  const Response echo = c.get("/echo");
  const auto at = echo.body.find("traceparent: 00-");
  REQUIRE(at != std::string::npos);
  CHECK(echo.body.substr(at + 53 + 13, 2) == "01");  // "traceparent: " is 13 characters
  // Without the option, nothing is added.
  HttpClient plain(d.port());
  CHECK_FALSE(contains(plain.get("/echo").body, "traceparent"));
}

}  // namespace
}  // namespace triaged::test
