// `triaged fleet` against a real Prometheus (Debian's package, started on its own port with a
// generated configuration and a 1 s scrape interval) scraping three real triaged instances, two
// labelled node-a and one node-b, in front of the scripted upstream. Three failure patterns:
// `catalog` answers 500 to every instance (all instances), `search` closes connections on the
// two node-a instances only (one node), and `billing` is a closed port for one instance only
// (one instance). The report must rank them by failures with those verdicts, and the node-b
// instance, stopped during the test, must show as not reporting. Every wait polls Prometheus
// with a deadline. Skipped, saying so, only when the prometheus binary is missing.

#include <unistd.h>

#include <catch2/catch.hpp>
#include <map>
#include <memory>
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

// Three upstreams on the fake; `billing` goes to `billing_endpoint` instead. No retries, so
// one request is one failure, and fewer than three refused connects, so passive health never
// marks billing down.
std::string fleetConfig(const std::string& fake, const std::string& billing_endpoint) {
  std::string c =
      "[server]\n"
      "listen = \"127.0.0.1:0\"\n"
      "admin_listen = \"127.0.0.1:0\"\n"
      "drain_timeout = \"1s\"\n";
  for (const auto& [name, endpoint] : {std::pair<std::string, std::string>{"catalog", fake},
                                       {"search", fake},
                                       {"billing", billing_endpoint}}) {
    c += "\n[[upstream]]\nname = \"" + name + "\"\nendpoints = [\"" + endpoint +
         "\"]\nretries = 0\n";
    c += "\n[[route]]\nprefix = \"/" + name + "\"\nupstream = \"" + name + "\"\n";
  }
  return c;
}

int get(const DaemonProcess& daemon, const std::string& path) {
  HttpClient client(daemon.port());
  return client.get(path).status;
}

std::string instanceOf(const DaemonProcess& daemon) {
  return "127.0.0.1:" + std::to_string(daemon.adminPort());
}

// The value of the first sample of an instant query's JSON answer, e.g. "3"; "" when none.
std::string firstValue(const std::optional<std::string>& answer) {
  if (!answer) return "";
  const auto result = jsonField(*answer, "result");
  if (!result) return "";
  const auto samples = jsonArrayItems(*result);
  if (samples.empty()) return "";
  const auto value = jsonField(samples.front(), "value");
  if (!value) return "";
  const auto point = jsonArrayItems(*value);
  return point.size() == 2 ? jsonField("{\"v\":" + point[1] + "}", "v").value_or("") : "";
}

Finished runFleet(const std::vector<std::string>& args) {
  std::vector<std::string> argv{TRIAGED_BINARY, "fleet"};
  argv.insert(argv.end(), args.begin(), args.end());
  return runToExit("fleet", std::move(argv), {}, 60s);
}

std::string field(const std::string& json, const std::string& key) {
  return jsonField(json, key).value_or("(missing)");
}

}  // namespace

TEST_CASE("triaged fleet ranks causes across instances with their blast radius",
          "[integration][fleet]") {
  if (!PrometheusServer::installed()) {
    WARN("prometheus not installed; scripts/setup.sh installs it (Debian package prometheus)");
    SUCCEED("skipped: " << PrometheusServer::kBinary << " is missing");
    return;
  }
  FakeUpstream fake;
  const std::string refused = "127.0.0.1:" + std::to_string(closedPort());
  DaemonProcess a1(fleetConfig(fake.address(), refused));
  DaemonProcess a2(fleetConfig(fake.address(), fake.address()));
  auto b1 = std::make_unique<DaemonProcess>(fleetConfig(fake.address(), fake.address()));
  const std::string b1_instance = instanceOf(*b1);
  // With the shipped rules, so the dashboard's recording rules are checked on real series too.
  PrometheusServer prometheus(
      {
          {a1.adminPort(), {{"node", "node-a"}, {"namespace", "shop"}}},
          {a2.adminPort(), {{"node", "node-a"}, {"namespace", "shop"}}},
          {b1->adminPort(), {{"node", "node-b"}, {"namespace", "shop"}}},
      },
      {TRIAGED_SOURCE_DIR "/deploy/prometheus/triaged-rules.yml"});

  // Every instance scraped once before any failure: the counters' first samples are 0.
  const bool scraped = prometheus.pollUntil(
      [&] {
        return firstValue(prometheus.query("count(triaged_build_info{namespace=\"shop\"})")) == "3";
      },
      30s);
  REQUIRE(scraped);

  for (DaemonProcess* d : {&a1, &a2, b1.get()}) {
    for (int i = 0; i < 4; ++i) CHECK(get(*d, "/catalog/item?status=500") == 500);
  }
  for (DaemonProcess* d : {&a1, &a2}) {
    for (int i = 0; i < 3; ++i) CHECK(get(*d, "/search/q?action=close_before_headers") == 502);
  }
  for (int i = 0; i < 3; ++i) CHECK(get(*b1, "/search/q?status=200") == 200);
  for (int i = 0; i < 2; ++i) CHECK(get(a1, "/billing/pay") == 502);
  for (DaemonProcess* d : {&a2, b1.get()}) {
    for (int i = 0; i < 2; ++i) CHECK(get(*d, "/billing/pay?status=200") == 200);
  }

  // 12 + 6 + 2 failures, once Prometheus has scraped them all.
  const std::string failures_query =
      "sum(triaged_failures_total{namespace=\"shop\",upstream=~\"catalog|search|billing\"})";
  std::string seen;
  const bool counted = prometheus.pollUntil(
      [&] {
        seen = firstValue(prometheus.query(failures_query));
        return seen == "20";
      },
      30s);
  INFO("Prometheus counted " << seen << " failures");
  REQUIRE(counted);

  // The node-b instance goes away; its target stays in the configuration and fails (up == 0).
  CHECK(b1->stop() == 0);
  b1.reset();
  const bool down = prometheus.pollUntil(
      [&] {
        const auto answer = prometheus.query("up{namespace=\"shop\"} == 0");
        return answer && contains(*answer, b1_instance);
      },
      30s);
  REQUIRE(down);

  // The recording rules behind the dashboard's blast radius panel come to agree: all, 2 of 3,
  // 1 of 3 (the stopped instance still counts for the 5m its failures do). Rules are evaluated
  // every second on what was scraped by then, so an evaluation from before the last scrape may
  // be the latest for a moment: poll until the values hold.
  std::map<std::string, std::string> ratios;
  const bool recorded = prometheus.pollUntil(
      [&] {
        ratios.clear();
        const auto answer = prometheus.query(
            "namespace_upstream_cause:triaged_instances_failing:ratio5m{namespace=\"shop\"}");
        for (const auto& sample : jsonArrayItems(field(answer.value_or("{}"), "result"))) {
          const auto point = jsonArrayItems(field(sample, "value"));
          if (point.size() == 2) ratios[field(sample, "upstream")] = point[1];
        }
        return ratios.size() == 3 && ratios["catalog"] == "\"1\"" &&
               contains(ratios["search"], "\"0.66666") && contains(ratios["billing"], "\"0.33333");
      },
      30s);
  INFO("recorded blast radius ratios: catalog " << ratios["catalog"] << ", search "
                                                << ratios["search"] << ", billing "
                                                << ratios["billing"]);
  CHECK(recorded);

  const std::vector<std::string> common{"--prometheus", prometheus.url(), "--window",
                                        "5m",           "--selector",     "{namespace=\"shop\"}"};
  std::vector<std::string> json_args = common;
  json_args.push_back("--json");
  // The fleet view is evaluated at the last whole step (1 s for a 5 m window): poll it until
  // that step is past the stop too.
  Finished json;
  const bool settled = prometheus.pollUntil(
      [&] {
        json = runFleet(json_args);
        return json.exit_code == 0 && field(json.output, "instances_reporting") == "2";
      },
      30s);
  INFO("triaged fleet --json printed:\n" << json.output);
  REQUIRE(json.exit_code == 0);
  CHECK(settled);

  CHECK(field(json.output, "window_seconds") == "300");
  CHECK(field(json.output, "instances_total") == "3");
  CHECK(field(json.output, "instances_reporting") == "2");
  const auto causes = jsonArrayItems(field(json.output, "causes"));
  REQUIRE(causes.size() == 3);

  CHECK(field(causes[0], "upstream") == "catalog");
  CHECK(field(causes[0], "cause") == "upstream_app_error");
  CHECK(field(causes[0], "failures") == "12");
  CHECK(field(causes[0], "instances_affected") == "3");
  CHECK(field(causes[0], "instances_with_upstream") == "3");
  CHECK(field(causes[0], "blast_radius") == "all_instances");
  CHECK(contains(field(causes[0], "hint"), "Check the server's logs"));

  CHECK(field(causes[1], "upstream") == "search");
  CHECK(field(causes[1], "cause") == "upstream_closed_early");
  CHECK(field(causes[1], "status") == "502");
  CHECK(field(causes[1], "failures") == "6");
  CHECK(field(causes[1], "instances_affected") == "2");
  CHECK(field(causes[1], "blast_radius") == "one_node");
  CHECK(field(causes[1], "node") == "node-a");

  CHECK(field(causes[2], "upstream") == "billing");
  CHECK(field(causes[2], "cause") == "connect_refused");
  CHECK(field(causes[2], "failures") == "2");
  CHECK(field(causes[2], "instances_affected") == "1");
  CHECK(field(causes[2], "blast_radius") == "one_instance");
  CHECK(field(field(causes[2], "top_instance"), "instance") == instanceOf(a1));
  CHECK(field(field(causes[2], "top_instance"), "failures") == "2");
  CHECK(field(field(causes[0], "top_instance"), "failures") == "4");
  CHECK(field(causes[2], "hint") ==
        "Check the gateway's upstream address and that the app process is up (kubectl get pod; "
        "kubectl logs --previous for a crash loop).");

  for (const auto& cause : causes) {
    CHECK(field(cause, "first_seen").size() == 20);  // 2025-12-01T10:00:00Z
    CHECK(field(cause, "first_seen") <= field(cause, "last_seen"));
  }

  const auto down_list = jsonArrayItems(field(json.output, "instances_down"));
  REQUIRE(down_list.size() == 1);
  CHECK(field(down_list[0], "instance") == b1_instance);
  CHECK(field(down_list[0], "node") == "node-b");
  CHECK(field(down_list[0], "reason") == "scrape_failing");
  const auto versions = jsonArrayItems(field(json.output, "versions"));
  REQUIRE(versions.size() == 1);
  CHECK(field(versions[0], "instances") == "2");
  CHECK(field(json.output, "version_skew") == "false");

  // The same as a table, without colour when stdout is not a terminal.
  const Finished text = runFleet(common);
  INFO("triaged fleet printed:\n" << text.output);
  CHECK(text.exit_code == 0);
  CHECK(contains(text.output, "3 instances reported in the window, 2 now"));
  CHECK(contains(text.output, "all instances"));
  CHECK(contains(text.output, "one node: node-a"));
  CHECK(contains(text.output, "one instance: " + instanceOf(a1)));
  CHECK(contains(text.output, "Not reporting (1 of 3):"));
  CHECK(contains(text.output, b1_instance + " on node-b: scrape failing (up == 0)"));
  CHECK_FALSE(contains(text.output, "\x1b"));

  // On a terminal (script(1) gives it a pseudo-terminal), coloured like `triaged triage`,
  // unless NO_COLOR is set.
  constexpr const char* kScript = "/usr/bin/script";
  if (::access(kScript, X_OK) == 0) {
    const std::string command = std::string(TRIAGED_BINARY) + " fleet --prometheus " +
                                prometheus.url() + " --window 5m --selector '{namespace=\"shop\"}'";
    const std::vector<std::string> argv{kScript, "-qec", command, "/dev/null"};
    const Finished coloured = runToExit("script", argv, {{"TERM", "xterm"}}, 60s);
    INFO(coloured.output);
    CHECK(coloured.exit_code == 0);
    CHECK(contains(coloured.output, "\x1b[1mUPSTREAM"));  // the heading bold
    CHECK(contains(coloured.output, "\x1b[31mcatalog"));  // the app error row red
    const Finished plain = runToExit("script", argv, {{"TERM", "xterm"}, {"NO_COLOR", "1"}}, 60s);
    CHECK(plain.exit_code == 0);
    CHECK(contains(plain.output, "catalog"));
    CHECK_FALSE(contains(plain.output, "\x1b["));
  } else {
    WARN("util-linux script not installed: the terminal colour check is skipped");
  }

  // Another namespace: nothing there, an empty report and exit 0.
  const Finished empty =
      runFleet({"--prometheus", prometheus.url(), "--selector", "{namespace=\"nowhere\"}"});
  INFO(empty.output);
  CHECK(empty.exit_code == 0);
  CHECK(contains(empty.output, "No failures in the last 15m across 0 instances."));

  // Prometheus refuses the query: exit 1 and its error, on one line.
  const Finished refused_query =
      runFleet({"--prometheus", prometheus.url(), "--selector", "{namespace=~\"(\"}"});
  INFO(refused_query.output);
  CHECK(refused_query.exit_code == 1);
  REQUIRE(refused_query.lines.size() == 1);
  CHECK(contains(refused_query.lines[0], "triaged fleet: asking " + prometheus.url()));
  CHECK(contains(refused_query.lines[0], "Prometheus answered 400 (bad_data)"));

  CHECK(prometheus.stop() == 0);
}

TEST_CASE("triaged fleet says why when Prometheus cannot be reached or the arguments are wrong",
          "[integration][fleet]") {
  const std::string url = "http://127.0.0.1:" + std::to_string(closedPort());
  const Finished unreachable = runFleet({"--prometheus", url});
  INFO(unreachable.output);
  CHECK(unreachable.exit_code == 1);
  REQUIRE(unreachable.lines.size() == 1);
  CHECK(unreachable.lines[0] ==
        "triaged fleet: cannot reach Prometheus at " + url + ": Connection refused");

  const Finished missing = runFleet({});
  CHECK(missing.exit_code == 2);
  CHECK(contains(missing.output, "--prometheus URL is required"));
  const Finished window = runFleet({"--prometheus", url, "--window", "15"});
  CHECK(window.exit_code == 2);
  CHECK(contains(window.output, "--window wants a duration"));
  const Finished selector = runFleet({"--prometheus", url, "--selector", "up{job=\"x\"}"});
  CHECK(selector.exit_code == 2);
  CHECK(contains(selector.output, "--selector wants label matchers"));
  const Finished by_upstream = runFleet({"--prometheus", url, "--selector", "{upstream=\"x\"}"});
  CHECK(by_upstream.exit_code == 2);
  CHECK(contains(by_upstream.output, "'upstream' is not one"));
  const Finished label = runFleet({"--prometheus", url, "--node-label", "kubernetes.io/hostname"});
  CHECK(label.exit_code == 2);
  const Finished https = runFleet({"--prometheus", "https://prometheus:9090"});
  CHECK(https.exit_code == 2);
  const Finished help = runFleet({"--help"});
  CHECK(help.exit_code == 0);
  CHECK(contains(help.output, "usage: triaged fleet --prometheus URL"));
}

}  // namespace triaged::test
