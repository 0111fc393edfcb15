#include "triaged/admin/fleet_report.h"

#include <catch2/catch.hpp>
#include <string>

#include "triaged/core/json_value.h"
#include "triaged/diagnose/failure_table.h"

namespace triaged::admin {
namespace {

using std::chrono::seconds;

// 2025-12-01T10:00:00Z
constexpr double kNow = 1764583200;
const WallTime kNowTime = WallTime{} + seconds(static_cast<int64_t>(kNow));

std::vector<PromSeries> answer(const std::string& body) {
  auto parsed = parsePromAnswer(200, body);
  INFO(body);
  REQUIRE(parsed);
  return std::move(parsed).value();
}

// An instant vector answer from "metric-json value" pairs.
std::string vector(const std::vector<std::pair<std::string, std::string>>& samples) {
  std::string out = R"({"status":"success","data":{"resultType":"vector","result":[)";
  for (size_t i = 0; i < samples.size(); ++i) {
    out += (i == 0 ? "" : ",") + std::string(R"({"metric":)") + samples[i].first +
           R"(,"value":[1764583200,")" + samples[i].second + "\"]}";
  }
  return out + "]}}";
}

// A matrix answer: metric JSON and (seconds before now, value) points.
struct Series {
  std::string metric;
  std::vector<std::pair<int, int>> points;
};
std::string matrix(const std::vector<Series>& series) {
  std::string out = R"({"status":"success","data":{"resultType":"matrix","result":[)";
  for (size_t i = 0; i < series.size(); ++i) {
    out += (i == 0 ? "" : ",") + std::string(R"({"metric":)") + series[i].metric + R"(,"values":[)";
    for (size_t p = 0; p < series[i].points.size(); ++p) {
      out += (p == 0 ? "" : ",") + std::string("[") +
             std::to_string(static_cast<int64_t>(kNow) - series[i].points[p].first) + ",\"" +
             std::to_string(series[i].points[p].second) + "\"]";
    }
    out += "]}";
  }
  return out + "]}}";
}

std::string uc(const std::string& upstream, const std::string& cause, const std::string& part) {
  return R"({"upstream":")" + upstream + R"(","cause":")" + cause + R"(","triaged_fleet":")" +
         part + "\"}";
}

FleetOptions options() {
  FleetOptions o;
  o.prometheus = "http://127.0.0.1:9090";
  o.window = seconds(900);
  o.selector = R"(namespace="shop")";
  return o;
}

// Five instances seen in the window: 10.0.0.1 and .2 on node-a, .3 on node-b, .4 on node-c
// (its scrape fails now), .5 (no node label, no longer scraped).
FleetAnswers fleet() {
  FleetAnswers a;
  a.increments = answer(matrix({
      // catalog fails everywhere: a burst 10 minutes ago and again in the last minute
      {uc("catalog", "upstream_app_error", "failures"), {{600, 4}, {597, 4}, {594, 4}, {3, 2}}},
      {uc("search", "upstream_closed_early", "failures"), {{300, 6}}},
      {uc("billing", "connect_refused", "failures"), {{240, 1}, {237, 1}}},
      {uc("orders", "response_header_timeout", "failures"), {{180, 6}}},
      {uc("billing", "future_cause", "failures"), {{120, 1}}},
      {uc("billing", "connect_refused", "retries"), {{240, 2}}},
      {uc("billing", "stale_keepalive", "retries"), {{400, 3}, {100, 2}}},
      {R"({"upstream":"catalog","triaged_fleet":"requests"})", {{600, 20}, {3, 20}}},
      {R"({"upstream":"search","triaged_fleet":"requests"})", {{300, 12}}},
      {R"({"upstream":"billing","triaged_fleet":"requests"})", {{240, 100}}},
      {R"({"upstream":"orders","triaged_fleet":"requests"})", {{180, 60}}},
  }));
  a.instances_affected = answer(vector({
      {R"({"upstream":"catalog","cause":"upstream_app_error"})", "4"},
      {R"({"upstream":"search","cause":"upstream_closed_early"})", "2"},
      {R"({"upstream":"billing","cause":"connect_refused"})", "1"},
      {R"({"upstream":"orders","cause":"response_header_timeout"})", "2"},
      {R"({"upstream":"billing","cause":"future_cause"})", "1"},
  }));
  a.nodes_affected = answer(vector({
      {R"({"upstream":"catalog","cause":"upstream_app_error"})", "3"},
      {R"({"upstream":"search","cause":"upstream_closed_early"})", "1"},
      {R"({"upstream":"billing","cause":"connect_refused"})", "1"},
      {R"({"upstream":"orders","cause":"response_header_timeout"})", "2"},
      {R"({"upstream":"billing","cause":"future_cause"})", "1"},
  }));
  a.top_instance = answer(vector({
      {R"({"upstream":"catalog","cause":"upstream_app_error","instance":"10.0.0.1:9901","node":"node-a"})",
       "4.2"},
      {R"({"upstream":"search","cause":"upstream_closed_early","instance":"10.0.0.2:9901","node":"node-a"})",
       "3"},
      {R"({"upstream":"billing","cause":"connect_refused","instance":"10.0.0.3:9901","node":"node-b"})",
       "2.1"},
      {R"({"upstream":"orders","cause":"response_header_timeout","instance":"10.0.0.3:9901","node":"node-b"})",
       "3"},
      {R"({"upstream":"billing","cause":"future_cause","instance":"10.0.0.3:9901","node":"node-b"})",
       "1"},
  }));
  a.instances_per_upstream = answer(vector({
      {R"({"upstream":"catalog"})", "4"},
      {R"({"upstream":"search"})", "3"},
      {R"({"upstream":"billing"})", "4"},
      {R"({"upstream":"orders"})", "3"},
  }));
  a.instances_seen = answer(vector({{"{}", "5"}}));
  a.versions = answer(vector({{R"({"version":"0.1.0"})", "2"}, {R"({"version":"0.2.0"})", "1"}}));
  a.not_reporting = answer(vector({
      {R"({"instance":"10.0.0.5:9901"})", "1764582660"},
      {R"({"instance":"10.0.0.4:9901","node":"node-c"})", "1764583080"},
  }));
  a.down = answer(vector({{R"({"instance":"10.0.0.4:9901"})", "1"}}));
  return a;
}

const FleetCause& row(const FleetReport& r, const std::string& upstream, const std::string& cause) {
  for (const auto& c : r.causes) {
    if (c.upstream == upstream && c.cause == cause) return c;
  }
  FAIL("no row " << upstream << " / " << cause);
  throw std::logic_error("unreachable");
}

}  // namespace

TEST_CASE("Prometheus answers are read as series, errors as a one-line reason",
          "[unit][fleet_report]") {
  const auto v = answer(
      R"({"status":"success","data":{"resultType":"vector","result":[)"
      R"({"metric":{"upstream":"a","cause":"connect_refused"},"value":[1764583200.123,"12"]},)"
      R"({"metric":{},"value":[1764583200,"NaN"]},)"
      R"({"metric":{},"value":[1764583200,"+Inf"]}]}})");
  REQUIRE(v.size() == 3);
  CHECK(v[0].labels.at("upstream") == "a");
  REQUIRE(v[0].points.size() == 1);
  CHECK(v[0].points[0].first == Approx(1764583200.123));
  CHECK(v[0].points[0].second == 12.0);
  CHECK(v[1].points.empty());  // NaN and Inf are no counts
  CHECK(v[2].points.empty());

  const auto m = answer(R"({"status":"success","data":{"resultType":"matrix","result":[)"
                        R"({"metric":{"x":"1"},"values":[[20,"2"],[10,"1"]]}]},"warnings":["w"]})");
  REQUIRE(m.size() == 1);
  REQUIRE(m[0].points.size() == 2);
  CHECK(m[0].points[0] == std::make_pair(10.0, 1.0));  // in time order

  const auto bad = parsePromAnswer(
      400,
      R"({"status":"error","errorType":"bad_data","error":"1:5: parse error: \"x\" unexpected"})");
  REQUIRE_FALSE(bad);
  CHECK(bad.error().message ==
        R"(Prometheus answered 400 (bad_data): "1:5: parse error: \"x\" unexpected")");

  const auto proxy = parsePromAnswer(502, "<html>\n<body>Bad Gateway</body>");
  REQUIRE_FALSE(proxy);
  CHECK(proxy.error().message == R"(Prometheus answered 502, not with its API's JSON: "<html>")");

  const auto garbage = parsePromAnswer(200, "{\"status\":");
  REQUIRE_FALSE(garbage);
  CHECK(garbage.error().message ==
        "Prometheus's answer is not valid JSON: unexpected end of input at byte 10");

  const auto scalar = parsePromAnswer(
      200, R"({"status":"success","data":{"resultType":"scalar","result":[1,"2"]}})");
  REQUIRE_FALSE(scalar);
  CHECK(scalar.error().message == "Prometheus answered a scalar, not a vector or matrix");

  const auto string_result =
      parsePromAnswer(200, R"({"status":"success","data":{"resultType":"string","result":[]}})");
  REQUIRE_FALSE(string_result);
  CHECK(string_result.error().message == "Prometheus answered a string, not a vector or matrix");

  CHECK_FALSE(parsePromAnswer(200, R"({"data":{}})"));
  CHECK_FALSE(parsePromAnswer(
      200, R"({"status":"success","data":{"resultType":"vector","result":[{"value":[1,"1"]}]}})"));
  CHECK_FALSE(parsePromAnswer(
      200,
      R"({"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1,2]}]}})"));
}

TEST_CASE("the queries are aggregated by PromQL and carry the selector and labels",
          "[unit][fleet_report]") {
  FleetOptions o = options();
  o.instance_label = "pod";
  const FleetQueries q = fleetQueries(o);
  CHECK(q.step == seconds(3));  // 900 s in 300 steps
  CHECK(q.instances_affected ==
        R"(count by (upstream, cause) (sum by (upstream, cause, pod) )"
        R"((increase(triaged_failures_total{namespace="shop"}[900s])) > 0))");
  CHECK(q.nodes_affected == R"(count by (upstream, cause) (sum by (upstream, cause, node) )"
                            R"((increase(triaged_failures_total{namespace="shop"}[900s])) > 0))");
  CHECK(q.top_instance == R"(topk by (upstream, cause) (1, sum by (upstream, cause, pod, node) )"
                          R"((sum_over_time(((triaged_failures_total{namespace="shop"} - )"
                          R"(triaged_failures_total{namespace="shop"} offset 3s) >= 0 or )"
                          R"(triaged_failures_total{namespace="shop"} * 1)[898500ms:3s])) > 0))");
  CHECK(q.versions == R"(count by (version) (triaged_build_info{namespace="shop"}))");
  CHECK(q.down == R"(count by (pod) ((up{namespace="shop"} == 0) and on (pod) )"
                  R"(max_over_time(triaged_build_info{namespace="shop"}[900s])))");
  CHECK(
      q.not_reporting ==
      R"(max by (pod, node) (max_over_time(timestamp(triaged_build_info{namespace="shop"})[900s:3s])) )"
      R"(unless on (pod) triaged_build_info{namespace="shop"})");
  CHECK(
      q.increments ==
      R"(label_replace(sum by (upstream, cause) (((triaged_failures_total{namespace="shop"} - )"
      R"(triaged_failures_total{namespace="shop"} offset 3s) >= 0 or )"
      R"(triaged_failures_total{namespace="shop"} * 1)) > 0, "triaged_fleet", "failures", "", "") or )"
      R"(label_replace(sum by (upstream, cause) (((triaged_retries_total{namespace="shop"} - )"
      R"(triaged_retries_total{namespace="shop"} offset 3s) >= 0 or )"
      R"(triaged_retries_total{namespace="shop"} * 1)) > 0, "triaged_fleet", "retries", "", "") or )"
      R"(label_replace(sum by (upstream) (((triaged_requests_total{namespace="shop"} - )"
      R"(triaged_requests_total{namespace="shop"} offset 3s) >= 0 or )"
      R"(triaged_requests_total{namespace="shop"} * 1)) > 0, "triaged_fleet", "requests", "", ""))");

  FleetOptions all;
  all.window = seconds(60);
  const FleetQueries everything = fleetQueries(all);
  CHECK(everything.step == seconds(1));
  CHECK(everything.versions == "count by (version) (triaged_build_info)");
  CHECK(everything.instances_seen ==
        "count(count by (instance) (max_over_time(triaged_build_info[60s])))");
}

TEST_CASE("the queries are evaluated at a multiple of the step", "[unit][fleet_report]") {
  const WallTime t = kNowTime + std::chrono::milliseconds(4700);  // 10:00:04.7
  CHECK(fleetEvaluationTime(t, seconds(900)) == kNowTime + seconds(3));
  CHECK(fleetEvaluationTime(t, seconds(300)) == kNowTime + seconds(4));
  CHECK(fleetEvaluationTime(kNowTime, seconds(900)) == kNowTime);
  CHECK(fleetStep(seconds(86400)) == seconds(288));
}

TEST_CASE("causes are ranked by failures with a blast radius each", "[unit][fleet_report]") {
  const FleetReport r = buildFleetReport(options(), fleet(), kNowTime);
  REQUIRE(r.causes.size() == 5);
  // 14 > 6 = 6 (the later last rise first) > 2 > 1
  CHECK(r.causes[0].upstream == "catalog");
  CHECK(r.causes[1].upstream == "orders");
  CHECK(r.causes[2].upstream == "search");
  CHECK(r.causes[3].cause == "connect_refused");
  CHECK(r.causes[4].cause == "future_cause");

  const auto& catalog = row(r, "catalog", "upstream_app_error");
  CHECK(catalog.failures == 14);
  CHECK(catalog.blast_radius == BlastRadius::AllInstances);
  CHECK(catalog.instances_affected == 4);
  CHECK(catalog.instances_with_upstream == 4);
  CHECK(catalog.status_text == "5xx");
  CHECK_FALSE(catalog.status);
  CHECK(catalog.rate_per_second == Approx(14.0 / 900));
  REQUIRE(catalog.share);
  CHECK(*catalog.share == Approx(14.0 / 40));
  REQUIRE(catalog.episodes.size() == 2);  // 10 minutes apart: two episodes
  CHECK(catalog.episodes[0].failures == 12);
  CHECK(catalog.episodes[0].start == kNowTime - seconds(600));
  CHECK(catalog.episodes[0].end == kNowTime - seconds(594));
  CHECK_FALSE(catalog.episodes[0].ongoing);
  CHECK(catalog.episodes[1].failures == 2);
  CHECK(catalog.episodes[1].ongoing);
  CHECK(catalog.first_seen == kNowTime - seconds(600));
  CHECK(catalog.last_seen == kNowTime - seconds(3));
  CHECK(catalog.top_instance == "10.0.0.1:9901");
  CHECK(catalog.top_instance_failures == 4);

  const auto& search = row(r, "search", "upstream_closed_early");
  CHECK(search.blast_radius == BlastRadius::OneNode);
  CHECK(search.node == "node-a");
  CHECK(search.status == 502);
  CHECK(search.instances_with_upstream == 3);

  const auto& billing = row(r, "billing", "connect_refused");
  CHECK(billing.blast_radius == BlastRadius::OneInstance);
  CHECK(billing.top_instance == "10.0.0.3:9901");
  CHECK(billing.top_instance_node == "node-b");
  CHECK(billing.node.empty());
  CHECK(billing.failures == 2);
  CHECK(billing.retries == 2);
  REQUIRE(billing.share);
  CHECK(*billing.share == Approx(0.02));
  REQUIRE(billing.episodes.size() == 1);
  CHECK(billing.episodes[0].failures == 2);

  const auto& orders = row(r, "orders", "response_header_timeout");
  CHECK(orders.blast_radius == BlastRadius::SomeInstances);
  CHECK(orders.nodes_affected == 2);
  CHECK(orders.status == 504);

  const auto& future = row(r, "billing", "future_cause");
  CHECK_FALSE(future.known);
  CHECK(future.status_text == "?");
  CHECK(future.hint.empty());

  // stale_keepalive was only ever absorbed by retries
  REQUIRE(r.absorbed.size() == 1);
  CHECK(r.absorbed[0].cause == "stale_keepalive");
  CHECK(r.absorbed[0].retries == 5);

  CHECK(r.instances_total == 5);
  CHECK(r.instances_reporting == 3);
  REQUIRE(r.instances_down.size() == 2);
  CHECK(r.instances_down[0].instance == "10.0.0.5:9901");  // no node sorts first
  CHECK_FALSE(r.instances_down[0].scrape_failing);
  CHECK(r.instances_down[1].instance == "10.0.0.4:9901");
  CHECK(r.instances_down[1].node == "node-c");
  CHECK(r.instances_down[1].scrape_failing);
  REQUIRE(r.instances_down[1].last_seen);
  CHECK(*r.instances_down[1].last_seen == kNowTime - seconds(120));

  REQUIRE(r.versions.size() == 2);
  CHECK(r.versions[0].version == "0.1.0");
  CHECK(r.versions[0].instances == 2);
}

TEST_CASE("the blast radius is judged among the instances that route to the upstream",
          "[unit][fleet_report]") {
  auto verdict = [](const std::string& affected, const std::string& nodes,
                    const std::string& with_upstream, const std::string& top_node) {
    FleetAnswers a;
    a.increments = answer(matrix({{uc("app", "connect_refused", "failures"), {{10, 3}}}}));
    a.instances_affected =
        answer(vector({{R"({"upstream":"app","cause":"connect_refused"})", affected}}));
    a.nodes_affected = answer(vector({{R"({"upstream":"app","cause":"connect_refused"})", nodes}}));
    a.top_instance =
        answer(vector({{R"({"upstream":"app","cause":"connect_refused","instance":"i1")" +
                            (top_node.empty() ? "" : R"(,"node":")" + top_node + "\"") + "}",
                        "3"}}));
    a.instances_per_upstream = answer(vector({{R"({"upstream":"app"})", with_upstream}}));
    a.instances_seen = answer(vector({{"{}", "10"}}));
    const FleetReport r = buildFleetReport(options(), a, kNowTime);
    REQUIRE(r.causes.size() == 1);
    return r.causes[0].blast_radius;
  };
  CHECK(verdict("1", "1", "5", "n1") == BlastRadius::OneInstance);
  CHECK(verdict("1", "1", "1", "n1") == BlastRadius::AllInstances);  // a fleet of one
  CHECK(verdict("3", "1", "5", "n1") == BlastRadius::OneNode);
  CHECK(verdict("3", "1", "5", "") == BlastRadius::SomeInstances);  // no node label
  CHECK(verdict("3", "2", "5", "n1") == BlastRadius::SomeInstances);
  CHECK(verdict("5", "1", "5", "n1") == BlastRadius::AllInstances);  // every instance, one node
  // The upstream counted fewer instances than failed (a series that vanished): all of them.
  CHECK(verdict("4", "2", "3", "n1") == BlastRadius::AllInstances);
  // No per-instance answer (a rise just before the window): still one instance at least.
  CHECK(verdict("0", "0", "5", "n1") == BlastRadius::OneInstance);
}

TEST_CASE("nothing failed: an empty report, not an error", "[unit][fleet_report]") {
  FleetAnswers a;
  a.instances_seen = answer(vector({{"{}", "3"}}));
  a.versions = answer(vector({{R"({"version":"0.1.0"})", "3"}}));
  const FleetReport r = buildFleetReport(options(), a, kNowTime);
  CHECK(r.causes.empty());
  CHECK(r.instances_total == 3);
  CHECK(r.instances_reporting == 3);
  const std::string text = fleetReportText(r, false);
  CHECK_THAT(text, Catch::Contains("No failures in the last 15m across 3 instances."));
  CHECK_THAT(text, Catch::Contains("Versions: 0.1.0 on 3\n"));
  const auto doc = parseJson(fleetReportJson(r));
  REQUIRE(doc);
  CHECK(doc->find("causes")->array()->empty());
  CHECK(doc->find("instances_down")->array()->empty());
  CHECK(doc->find("version_skew")->boolean() == false);
}

TEST_CASE("the JSON document has the stable fields and escapes what it quotes",
          "[unit][fleet_report]") {
  FleetAnswers a = fleet();
  a.increments.push_back(
      answer(matrix({{uc("we\\\"ird\\n", "connect_refused", "failures"), {{30, 1}}}}))[0]);
  const FleetReport r = buildFleetReport(options(), a, kNowTime);
  const std::string json = fleetReportJson(r);
  const auto doc = parseJson(json);
  INFO(json);
  REQUIRE(doc);
  CHECK(*doc->find("generated_at")->string() == "2025-12-01T10:00:00Z");
  CHECK(doc->find("window_seconds")->number() == 900);
  CHECK(doc->find("instances_total")->number() == 5);
  CHECK(*doc->find("selector")->string() == R"({namespace="shop"})");
  CHECK(doc->find("version_skew")->boolean() == true);
  const auto& causes = *doc->find("causes")->array();
  REQUIRE(causes.size() == 6);
  const JsonValue& first = causes[0];
  CHECK(*first.find("upstream")->string() == "catalog");
  CHECK(*first.find("cause")->string() == "upstream_app_error");
  CHECK(*first.find("class")->string() == "app_error");
  CHECK(first.find("status")->isNull());
  CHECK(first.find("failures")->number() == 14);
  CHECK(first.find("instances_affected")->number() == 4);
  CHECK(*first.find("blast_radius")->string() == "all_instances");
  CHECK(*first.find("first_seen")->string() == "2025-12-01T09:50:00Z");
  CHECK(*first.find("last_seen")->string() == "2025-12-01T09:59:57Z");
  CHECK(first.find("episodes")->array()->size() == 2);
  CHECK_THAT(*first.find("hint")->string(), Catch::StartsWith("Check the server's logs"));
  for (const JsonValue& c : causes) {
    for (const char* key : {"upstream", "cause", "status", "failures", "instances_affected",
                            "blast_radius", "first_seen", "last_seen", "hint"}) {
      INFO(key);
      CHECK(c.find(key) != nullptr);
    }
  }
  bool weird = false;
  for (const JsonValue& c : causes) weird |= *c.find("upstream")->string() == "we\"ird\n";
  CHECK(weird);
  const auto& search = causes[2];
  CHECK(*search.find("node")->string() == "node-a");
  CHECK(search.find("status")->number() == 502);
  const auto& down = *doc->find("instances_down")->array();
  REQUIRE(down.size() == 2);
  CHECK(*down[1].find("reason")->string() == "scrape_failing");
  CHECK(*down[0].find("reason")->string() == "no_longer_scraped");
  CHECK(down[0].find("node")->isNull());
  CHECK(*doc->find("absorbed_by_retries")->array()->front().find("cause")->string() ==
        "stale_keepalive");
}

TEST_CASE("the text report is a table with hints, episodes, silent instances and versions",
          "[unit][fleet_report]") {
  const FleetReport r = buildFleetReport(options(), fleet(), kNowTime);
  const std::string text = fleetReportText(r, false);
  INFO(text);
  CHECK(text.find('\x1b') == std::string::npos);
  CHECK_THAT(text, Catch::StartsWith("triaged fleet report, 2025-12-01T10:00:00Z (last 15m"));
  CHECK_THAT(text, Catch::Contains("5 instances reported in the window, 3 now"));
  CHECK_THAT(text, Catch::Contains("UPSTREAM  CAUSE"));
  CHECK_THAT(text, Catch::Contains("catalog   upstream_app_error"));
  CHECK_THAT(text, Catch::Contains("all instances"));
  CHECK_THAT(text, Catch::Contains("one node: node-a"));
  CHECK_THAT(text, Catch::Contains("one instance: 10.0.0.3:9901"));
  CHECK_THAT(text, Catch::Contains("some instances (2 nodes)"));
  CHECK_THAT(text, Catch::Contains("  4/4  09:50:00  09:59:57"));
  CHECK_THAT(text, Catch::Contains(
                       "  billing / connect_refused: Check the gateway's upstream address and that "
                       "the app process is up (kubectl get pod; kubectl logs --previous for a "
                       "crash loop).\n"));
  CHECK_THAT(text, Catch::Contains("  catalog / upstream_app_error from 09:50:00 to 09:50:06 (12 "
                                   "failures), then no more\n"));
  CHECK_THAT(text, Catch::Contains(
                       "  catalog / upstream_app_error at 09:59:57 (2 failures), still rising\n"));
  CHECK_THAT(text, Catch::Contains("  billing / stale_keepalive: 5 retries\n"));
  CHECK_THAT(text, Catch::Contains("Not reporting (2 of 5):\n"));
  CHECK_THAT(text,
             Catch::Contains(
                 "  10.0.0.4:9901 on node-c: scrape failing (up == 0), last sample 09:58:00\n"));
  CHECK_THAT(text, Catch::Contains("  10.0.0.5:9901: no longer scraped"));
  CHECK_THAT(text, Catch::Contains("Versions: 0.1.0 on 2, 0.2.0 on 1 (version skew)\n"));

  const std::string coloured = fleetReportText(r, true);
  CHECK_THAT(coloured, Catch::Contains("\x1b[1mUPSTREAM"));
  CHECK_THAT(coloured, Catch::Contains("\x1b[31mcatalog "));   // an app error: red
  CHECK_THAT(coloured, Catch::Contains("\x1b[33mVersions:"));  // skew: yellow
}

TEST_CASE("a hint's first step is the sentence that says what to check", "[unit][fleet_report]") {
  auto step = [](std::string_view templ) {
    return hintFirstStep(templ, "billing", "cause", "502");
  };
  CHECK(step("{status}: nothing listens on {endpoint} ({errno}, upstream {upstream}). Check the "
             "address of {upstream} (kubectl get pod). Fix the port.") ==
        "Check the address of billing (kubectl get pod).");
  // Parentheses quoting evidence the fleet lacks go; other evidence shows as <name>.
  CHECK(step("502: x. Check the logs for request {request_id} ({method} {path}): kubectl logs.") ==
        "Check the logs for request <request_id>: kubectl logs.");
  CHECK(step("502: x. Check the timeout (nginx, Node.js 5s): keepalive_idle_timeout "
             "({keepalive_idle_timeout}) must be shorter; compare with curl http://{endpoint}/.") ==
        "Check the timeout (nginx, Node.js 5s): keepalive_idle_timeout must be shorter; compare "
        "with curl http://<endpoint>/.");
  // A lower-case "check" inside a sentence counts; "checker" does not.
  CHECK(step("408: a health checker connects. It crashed: check kubectl logs. Fix it.") ==
        "It crashed: check kubectl logs.");
  // No "check": the sentence after the status one.
  CHECK(step("502: the app closed ({errno}). The app closes idle connections after "
             "{upstream_idle_close}. Set the timeout.") ==
        "The app closes idle connections after <upstream_idle_close>.");
  CHECK(step("{status} for {upstream}.") == "502 for billing.");
}

TEST_CASE("every cause of the built-in catalog has a first step with nothing left unfilled",
          "[unit][fleet_report]") {
  CHECK(fleetHint("connect_refused", "billing", "502") ==
        "Check the gateway's upstream address and that the app process is up (kubectl get pod; "
        "kubectl logs --previous for a crash loop).");
  CHECK(fleetHint("future_cause", "x", "502").empty());
  for (const auto& info : diagnose::allCauses()) {
    const std::string hint = fleetHint(info.name, "app", "502");
    INFO(info.name << ": " << hint);
    CHECK_FALSE(hint.empty());
    CHECK(hint.find('{') == std::string::npos);
    CHECK(hint.find('?') == std::string::npos);
    CHECK(hint.back() == '.');
  }
}

TEST_CASE("command-line values: durations, selectors, label names", "[unit][fleet_report]") {
  CHECK(parsePromDuration("15m") == seconds(900));
  CHECK(parsePromDuration("1h30m") == seconds(5400));
  CHECK(parsePromDuration("90s") == seconds(90));
  CHECK(parsePromDuration("2d") == seconds(172800));
  CHECK_FALSE(parsePromDuration(""));
  CHECK_FALSE(parsePromDuration("15"));
  CHECK_FALSE(parsePromDuration("0s"));
  CHECK_FALSE(parsePromDuration("-5m"));
  CHECK_FALSE(parsePromDuration("5x"));
  CHECK_FALSE(parsePromDuration("1.5h"));
  CHECK_FALSE(parsePromDuration("99999999999999999999s"));

  CHECK(formatPromDuration(seconds(900)) == "15m");
  CHECK(formatPromDuration(seconds(90)) == "1m30s");
  CHECK(formatPromDuration(seconds(5400)) == "1h30m");
  CHECK(formatPromDuration(seconds(86400)) == "1d");

  CHECK(parseSelector(R"({namespace="shop"})") == R"(namespace="shop")");
  CHECK(parseSelector(R"( namespace="shop", pod=~"web-.*" )") ==
        R"(namespace="shop", pod=~"web-.*")");
  CHECK(parseSelector(R"({a="}{)("})") == R"(a="}{)(")");  // braces inside quotes are values
  CHECK(parseSelector("{}") == "");
  CHECK(parseSelector("") == "");
  CHECK_FALSE(parseSelector(R"(up{namespace="shop"})"));
  CHECK_FALSE(parseSelector(R"({namespace="shop"})"
                            R"( or vector(1))"));
  CHECK_FALSE(parseSelector(R"({namespace="shop)"));
  CHECK_FALSE(parseSelector(R"({a="b"}} or {c="d")"));
  CHECK_FALSE(parseSelector("{"));

  CHECK(selectorLabelNames(R"(namespace="shop", pod=~"web-.*,x", job!='a\'b',cluster!~`c`)") ==
        std::vector<std::string>{"namespace", "pod", "job", "cluster"});
  CHECK(selectorLabelNames("").empty());

  CHECK(isLabelName("instance"));
  CHECK(isLabelName("_x9"));
  CHECK_FALSE(isLabelName(""));
  CHECK_FALSE(isLabelName("9x"));
  CHECK_FALSE(isLabelName("node) or (x"));
  CHECK_FALSE(isLabelName("kubernetes.io/hostname"));
}

}  // namespace triaged::admin
