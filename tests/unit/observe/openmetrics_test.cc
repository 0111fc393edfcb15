#include "triaged/observe/openmetrics.h"

#include <catch2/catch.hpp>
#include <limits>

namespace triaged::observe {
namespace {

using prometheus::ClientMetric;
using prometheus::MetricFamily;
using prometheus::MetricType;

MetricFamily family(std::string name, MetricType type, std::string help) {
  MetricFamily f;
  f.name = std::move(name);
  f.type = type;
  f.help = std::move(help);
  return f;
}

TEST_CASE("OpenMetrics: counters lose _total in TYPE, keep it in samples, carry exemplars",
          "[unit][openmetrics]") {
  MetricFamily failures =
      family("triaged_failures_total", MetricType::Counter, "Failures by \"cause\"\nsecond");
  ClientMetric m;
  m.label = {{"upstream", "app"}, {"cause", "connect_refused"}};
  m.counter.value = 3;
  failures.metric.push_back(m);
  ClientMetric other;
  other.label = {{"upstream", "app"}, {"cause", "stale_keepalive"}};
  failures.metric.push_back(other);
  const auto lookup =
      [](const std::string& name,
         const std::vector<ClientMetric::Label>& labels) -> std::optional<Exemplar> {
    if (name != "triaged_failures_total" || labels[1].value != "connect_refused") return {};
    Exemplar e;
    e.labels = {{"request_id", "0e3e"}, {"trace_id", "4bf92f3577b34da6a3ce929d0e0e4736"}};
    e.at = std::chrono::system_clock::time_point(std::chrono::milliseconds(1733300000123));
    return e;
  };
  const std::string text = toOpenMetrics({failures}, lookup);
  CHECK(text ==
        "# TYPE triaged_failures counter\n"
        "# HELP triaged_failures Failures by \"cause\"\\nsecond\n"
        "triaged_failures_total{upstream=\"app\",cause=\"connect_refused\"} 3 # "
        "{request_id=\"0e3e\",trace_id=\"4bf92f3577b34da6a3ce929d0e0e4736\"} 1 1733300000.123\n"
        "triaged_failures_total{upstream=\"app\",cause=\"stale_keepalive\"} 0\n"
        "# EOF\n");
}

TEST_CASE("OpenMetrics: histograms, gauges, info and escaping", "[unit][openmetrics]") {
  MetricFamily h = family("triaged_request_duration_seconds", MetricType::Histogram, "");
  ClientMetric hm;
  hm.label = {{"upstream", "a\"b\\c"}};
  hm.histogram.sample_count = 2;
  hm.histogram.sample_sum = 0.25;
  hm.histogram.bucket = {{1, 0.005}, {2, std::numeric_limits<double>::infinity()}};
  h.metric.push_back(hm);
  MetricFamily g = family("triaged_requests_in_flight", MetricType::Gauge, "");
  ClientMetric gm;
  gm.gauge.value = 7;
  g.metric.push_back(gm);
  MetricFamily info = family("triaged_build_info", MetricType::Gauge, "");
  ClientMetric im;
  im.label = {{"version", "0.1.0"}};
  im.gauge.value = 1;
  info.metric.push_back(im);
  const std::string text = toOpenMetrics({h, g, info});
  CHECK(text ==
        "# TYPE triaged_request_duration_seconds histogram\n"
        "triaged_request_duration_seconds_bucket{upstream=\"a\\\"b\\\\c\",le=\"0.005\"} 1\n"
        "triaged_request_duration_seconds_bucket{upstream=\"a\\\"b\\\\c\",le=\"+Inf\"} 2\n"
        "triaged_request_duration_seconds_count{upstream=\"a\\\"b\\\\c\"} 2\n"
        "triaged_request_duration_seconds_sum{upstream=\"a\\\"b\\\\c\"} 0.25\n"
        "# TYPE triaged_requests_in_flight gauge\n"
        "triaged_requests_in_flight 7\n"
        "# TYPE triaged_build info\n"
        "triaged_build_info{version=\"0.1.0\"} 1\n"
        "# EOF\n");
}

TEST_CASE("the Accept header chooses OpenMetrics only when it is preferred",
          "[unit][openmetrics]") {
  // What Prometheus 2.x sends.
  CHECK(
      acceptsOpenMetrics("application/openmetrics-text;version=1.0.0,application/"
                         "openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,"
                         "*/*;q=0.1"));
  CHECK_FALSE(acceptsOpenMetrics(""));
  CHECK_FALSE(acceptsOpenMetrics("*/*"));
  CHECK_FALSE(acceptsOpenMetrics("text/plain;version=0.0.4"));
  CHECK_FALSE(acceptsOpenMetrics("text/plain, application/openmetrics-text"));
}

}  // namespace
}  // namespace triaged::observe
