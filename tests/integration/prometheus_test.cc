// /metrics as real Prometheus tooling sees it: `promtool check metrics` finds no problem in a
// live scrape (after successes and failures), and a real Prometheus server scraping the admin
// listener can query triaged_failures_total for a refused request. Both need the Debian
// package `prometheus` (scripts/setup.sh installs it) and skip, saying so, only when its binary
// is missing. Prometheus runs on its own free port with its own data directory, so a system
// service the package may have started is never touched.

#include <unistd.h>

#include <catch2/catch.hpp>
#include <optional>
#include <string>
#include <vector>

#include "harness/daemon_process.h"
#include "harness/fake_upstream.h"
#include "harness/http_client.h"
#include "harness/process.h"
#include "harness/prometheus_server.h"
#include "harness/test_support.h"

namespace triaged::test {
namespace {

constexpr const char* kPromtool = "/usr/bin/promtool";

bool executable(const char* path) { return ::access(path, X_OK) == 0; }

}  // namespace

TEST_CASE("promtool check metrics finds no problem in a live scrape", "[integration][prometheus]") {
  if (!executable(kPromtool)) {
    WARN("promtool not installed; scripts/setup.sh installs it (Debian package prometheus)");
    SUCCEED("skipped: " << kPromtool << " is missing");
    return;
  }
  FakeUpstream fake;
  DaemonProcess daemon(configWithRefusedUpstream(fake.address()));
  HttpClient client(daemon.port());
  CHECK(client.get("/?status=200").status == 200);
  CHECK(client.get("/?status=500").status == 500);
  CHECK(client.get("/?status=503").status == 503);
  CHECK(client.get("/?status=502").status == 502);
  HttpClient refused(daemon.port());
  CHECK(refused.get("/gone/x").status == 502);
  daemon.waitForLog("connect_refused");

  const Response scrape = daemon.admin("/metrics");
  REQUIRE(scrape.status == 200);
  REQUIRE(contains(scrape.body, "triaged_failures_total{"));

  TempDir dir;
  const std::string path = dir.write("scrape.prom", scrape.body);
  // promtool reads the exposition from stdin; the shell connects the file to it.
  Process promtool(
      "promtool",
      {"/bin/sh", "-c", std::string("exec ") + kPromtool + " check metrics < \"$1\"", "sh", path});
  const std::optional<int> exit_code = promtool.waitExit(15s);
  promtool.waitForLine([](const std::string&) { return false; }, 5s);  // output complete
  const std::vector<std::string> problems = promtool.lines();
  INFO("promtool reported:\n" << promtool.output() << "\nscrape was:\n" << scrape.body);
  CHECK(exit_code == 0);
  CHECK(problems.empty());
}

TEST_CASE("a real Prometheus server scrapes a refused request's failure counter",
          "[integration][prometheus]") {
  if (!PrometheusServer::installed()) {
    WARN("prometheus not installed; scripts/setup.sh installs it (Debian package prometheus)");
    SUCCEED("skipped: " << PrometheusServer::kBinary << " is missing");
    return;
  }
  FakeUpstream fake;
  DaemonProcess daemon(configWithRefusedUpstream(fake.address()));
  HttpClient client(daemon.port());
  REQUIRE(client.get("/gone/x").status == 502);

  PrometheusServer prometheus({ScrapeTarget{daemon.adminPort(), {}}});
  const std::string query =
      "/api/v1/query?query=triaged_failures_total%7Bcause%3D%22connect_refused%22%7D";
  std::string last_answer;
  const bool seen = prometheus.pollUntil(
      [&] {
        auto r = prometheus.get(query);
        if (!r) return false;
        last_answer = std::to_string(r->status) + " " + r->body;
        // A sample is [timestamp, "value"]; one refused request is the value "1".
        return r->status == 200 && contains(r->body, "\"upstream\":\"gone\"") &&
               contains(r->body, ",\"1\"]");
      },
      30s);
  if (!seen) {
    auto targets = prometheus.get("/api/v1/targets");
    INFO("scrape targets: " << (targets ? targets->body : std::string("(no answer)")));
    INFO("prometheus output:\n" << prometheus.process().output());
    INFO("last query answer: " << last_answer);
    CHECK(seen);
  }
  CHECK(prometheus.stop() == 0);
}

}  // namespace triaged::test
