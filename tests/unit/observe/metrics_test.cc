#include "triaged/observe/metrics.h"

#include <catch2/catch.hpp>
#include <string>

namespace triaged::observe {
namespace {

using diagnose::FailureCause;
using diagnose::Origin;

const prometheus::MetricFamily& familyNamed(const std::vector<prometheus::MetricFamily>& all,
                                            std::string_view name) {
  for (const auto& f : all) {
    if (f.name == name) return f;
  }
  FAIL("no family " << name);
  return all.front();
}

const prometheus::ClientMetric* find(const prometheus::MetricFamily& f,
                                     std::vector<prometheus::ClientMetric::Label> labels) {
  for (const auto& m : f.metric) {
    if (m.label == labels) return &m;
  }
  return nullptr;
}

}  // namespace

TEST_CASE("every contract family is exported with its type", "[unit][metrics]") {
  MetricsRegistry registry({"app"}, 1, "1.2.3");
  const auto all = registry.collect();
  for (const MetricDef* def :
       {&kRequestsTotal, &kFailuresTotal, &kRetriesTotal, &kRequestDuration, &kConnectDuration,
        &kHeaderDuration, &kInFlight, &kDownstreamConnections, &kUpstreamConnections,
        &kUpstreamDrains, &kBuildInfo}) {
    const auto& f = familyNamed(all, def->name);
    CHECK(f.type == def->type);
    CHECK_FALSE(f.help.empty());
  }
  // Failures exist at zero for every cause of a configured upstream, so alerts see increases.
  const auto& failures = familyNamed(all, kFailuresTotal.name);
  const auto* refused = find(failures, {{"upstream", "app"}, {"cause", "connect_refused"}});
  REQUIRE(refused != nullptr);
  CHECK(refused->counter.value == 0);
  // So do the drain results, one series per result and configured upstream.
  const auto& drains = familyNamed(all, kUpstreamDrains.name);
  CHECK(drains.metric.size() == kDrainResults);
  const auto* timeout = find(drains, {{"upstream", "app"}, {"result", "timeout"}});
  REQUIRE(timeout != nullptr);
  CHECK(timeout->counter.value == 0);
  const auto* build = find(familyNamed(all, kBuildInfo.name), {{"version", "1.2.3"}});
  REQUIRE(build != nullptr);
  CHECK(build->gauge.value == 1);
}

TEST_CASE("per-worker instruments are merged at scrape time", "[unit][metrics]") {
  MetricsRegistry registry({"app", "billing"}, 2, "v");
  auto& w0 = *registry.upstreamSlots(0, {"app"})[0];
  auto& w1 = *registry.upstreamSlots(1, {"app"})[0];
  w0.countRequest(Origin::Upstream, 200);
  w1.countRequest(Origin::Upstream, 200);
  w1.countRequest(Origin::Proxy, 502);
  w0.failures[static_cast<size_t>(FailureCause::ConnectRefused)].add();
  w1.failures[static_cast<size_t>(FailureCause::ConnectRefused)].add(2);
  w1.retries[static_cast<size_t>(FailureCause::StaleKeepalive)].add();
  w0.drains[static_cast<size_t>(DrainResult::Pooled)].add();
  w1.drains[static_cast<size_t>(DrainResult::Pooled)].add(2);
  w0.request_duration.observe(0.002);
  w1.request_duration.observe(20.0);
  w0.in_flight.add(3);
  w1.in_flight.add(-1);
  registry.worker(0).downstream_connections.add(4);
  registry.worker(1).downstream_connections.add(1);
  registry.worker(1).none().countRequest(Origin::Proxy, 400);

  const auto all = registry.collect();
  const auto& requests = familyNamed(all, kRequestsTotal.name);
  const auto* ok = find(requests, {{"upstream", "app"}, {"code", "200"}, {"origin", "upstream"}});
  REQUIRE(ok != nullptr);
  CHECK(ok->counter.value == 2);
  const auto* proxy502 =
      find(requests, {{"upstream", "app"}, {"code", "502"}, {"origin", "proxy"}});
  REQUIRE(proxy502 != nullptr);
  CHECK(proxy502->counter.value == 1);
  CHECK(find(requests, {{"upstream", "app"}, {"code", "502"}, {"origin", "upstream"}}) == nullptr);
  const auto* bad = find(requests, {{"upstream", ""}, {"code", "400"}, {"origin", "proxy"}});
  REQUIRE(bad != nullptr);
  CHECK(bad->counter.value == 1);

  const auto* refused = find(familyNamed(all, kFailuresTotal.name),
                             {{"upstream", "app"}, {"cause", "connect_refused"}});
  REQUIRE(refused != nullptr);
  CHECK(refused->counter.value == 3);
  const auto* retried = find(familyNamed(all, kRetriesTotal.name),
                             {{"upstream", "app"}, {"cause", "stale_keepalive"}});
  REQUIRE(retried != nullptr);
  CHECK(retried->counter.value == 1);
  const auto* pooled =
      find(familyNamed(all, kUpstreamDrains.name), {{"upstream", "app"}, {"result", "pooled"}});
  REQUIRE(pooled != nullptr);
  CHECK(pooled->counter.value == 3);

  const auto* hist = find(familyNamed(all, kRequestDuration.name), {{"upstream", "app"}});
  REQUIRE(hist != nullptr);
  CHECK(hist->histogram.sample_count == 2);
  CHECK(hist->histogram.sample_sum == Approx(20.002));
  // Cumulative buckets: 0.002 falls in the 2.5 ms bucket, 20 s only in +Inf.
  CHECK(hist->histogram.bucket.front().cumulative_count == 0);
  CHECK(hist->histogram.bucket[2].cumulative_count == 1);
  CHECK(hist->histogram.bucket.back().cumulative_count == 2);

  const auto* flight = find(familyNamed(all, kInFlight.name), {{"upstream", "app"}});
  REQUIRE(flight != nullptr);
  CHECK(flight->gauge.value == 2);
  CHECK(familyNamed(all, kDownstreamConnections.name).metric.at(0).gauge.value == 5);
}

TEST_CASE("the text exposition has HELP and TYPE lines", "[unit][metrics]") {
  MetricsRegistry registry({"app"}, 1, "v");
  const std::string text = registry.serialize();
  CHECK(text.find("# TYPE triaged_requests_total counter") != std::string::npos);
  CHECK(text.find("# HELP triaged_failures_total") != std::string::npos);
  CHECK(text.find("# TYPE triaged_upstream_header_duration_seconds histogram") !=
        std::string::npos);
  CHECK(text.find("triaged_build_info{version=\"v\"} 1") != std::string::npos);
}

}  // namespace triaged::observe

namespace triaged::observe {

TEST_CASE("a reload adds upstreams at 0 and keeps a removed one's counters", "[unit][metrics]") {
  MetricsRegistry registry({"app", "legacy"}, 1, "v");
  registry.upstreamSlots(0, {"legacy"})[0]
      ->failures[static_cast<size_t>(diagnose::FailureCause::ConnectRefused)]
      .add(4);
  registry.configureUpstreams({"app", "billing"});
  registry.setConfigHash("0123456789abcdef");
  registry.countReload(true);
  registry.countReload(false);
  const std::string text = registry.serialize();
  // The new upstream's failure series exist at 0 from the reload on.
  CHECK(text.find("triaged_failures_total{upstream=\"billing\",cause=\"stale_keepalive\"} 0") !=
        std::string::npos);
  // The removed one keeps what it counted (a counter never goes back), without zero series.
  CHECK(text.find("triaged_failures_total{upstream=\"legacy\",cause=\"connect_refused\"} 4") !=
        std::string::npos);
  CHECK(text.find("triaged_failures_total{upstream=\"legacy\",cause=\"stale_keepalive\"}") ==
        std::string::npos);
  CHECK(text.find("triaged_config_reloads_total{result=\"success\"} 1") != std::string::npos);
  CHECK(text.find("triaged_config_reloads_total{result=\"failure\"} 1") != std::string::npos);
  CHECK(text.find("triaged_config_info{hash=\"0123456789abcdef\"} 1") != std::string::npos);
  // A slot is the same object whatever the reload: the worker's references stay valid.
  CHECK(registry.upstreamSlots(0, {"app"})[0] == registry.upstreamSlots(0, {"app"})[0]);
  CHECK(registry.upstreamSlots(0, {"never"})[0] == nullptr);
}

}  // namespace triaged::observe
