#pragma once

// The OpenMetrics text exposition (https://prometheus.io/docs/specs/om/open_metrics_spec/) of
// the same families the Prometheus text format shows, for a scraper that asks for it (Accept:
// application/openmetrics-text), because only OpenMetrics carries exemplars: each
// triaged_failures_total series names its latest failure's request id and trace id, so a
// Grafana panel links a spike to one request. prometheus-cpp 1.0 (Debian 12) writes only the
// Prometheus text format, hence this writer. Pure.

#include <prometheus/metric_family.h>

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace triaged::observe {

inline constexpr std::string_view kOpenMetricsContentType =
    "application/openmetrics-text; version=1.0.0; charset=utf-8";

struct Exemplar {
  std::vector<prometheus::ClientMetric::Label> labels;  // e.g. request_id, trace_id
  double value = 1;
  std::chrono::system_clock::time_point at{};
};

// The exemplar of a counter sample: `family` (its name with _total) and the sample's labels.
using ExemplarLookup = std::function<std::optional<Exemplar>(
    const std::string& family, const std::vector<prometheus::ClientMetric::Label>& labels)>;

// Counters are exposed as "# TYPE x counter" with samples x_total; a gauge named *_info with a
// value of 1 becomes an info family; histograms get _bucket/_count/_sum; the text ends "# EOF".
std::string toOpenMetrics(const std::vector<prometheus::MetricFamily>& families,
                          const ExemplarLookup& exemplars = {});

// True when an Accept header prefers OpenMetrics to the Prometheus text format (as Prometheus
// 2.x asks: "application/openmetrics-text;version=1.0.0,...;q=0.75,text/plain;...;q=0.5").
bool acceptsOpenMetrics(std::string_view accept);

}  // namespace triaged::observe
