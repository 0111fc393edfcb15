#include "triaged/observe/metrics.h"

#include <prometheus/text_serializer.h>

#include <algorithm>
#include <cerrno>
#include <limits>
#include <sstream>

#include "triaged/diagnose/failure_table.h"
#include "triaged/observe/openmetrics.h"
#include "triaged/observe/process_metrics.h"

namespace triaged::observe {
namespace {

using prometheus::ClientMetric;
using prometheus::MetricFamily;

MetricFamily family(const MetricDef& def) {
  MetricFamily f;
  f.name = std::string(def.name);
  f.help = std::string(def.help);
  f.type = def.type;
  return f;
}

ClientMetric::Label label(std::string name, std::string value) {
  return ClientMetric::Label{std::move(name), std::move(value)};
}

constexpr std::array<diagnose::Origin, 3> kOrigins{
    diagnose::Origin::Upstream, diagnose::Origin::Proxy, diagnose::Origin::Client};

size_t originIndex(diagnose::Origin o) {
  switch (o) {
    case diagnose::Origin::Upstream:
      return 0;
    case diagnose::Origin::Proxy:
      return 1;
    case diagnose::Origin::Client:
      return 2;
  }
  return 1;
}

}  // namespace

std::string_view drainResultName(DrainResult result) {
  switch (result) {
    case DrainResult::Pooled:
      return "pooled";
    case DrainResult::PoolFull:
      return "pool_full";
    case DrainResult::TooLarge:
      return "too_large";
    case DrainResult::NotReusable:
      return "not_reusable";
    case DrainResult::Timeout:
      return "timeout";
    case DrainResult::UpstreamClosed:
      return "upstream_closed";
    case DrainResult::Malformed:
      return "malformed";
  }
  return "unknown";
}

std::string_view raceOutcomeName(RaceOutcome outcome) {
  switch (outcome) {
    case RaceOutcome::Avoided:
      return "avoided";
    case RaceOutcome::Absorbed:
      return "absorbed";
    case RaceOutcome::Surfaced:
      return "surfaced";
  }
  return "avoided";
}

std::string_view acceptPauseName(AcceptPause reason) {
  switch (reason) {
    case AcceptPause::ConnectionLimit:
      return "max_client_connections";
    case AcceptPause::Emfile:
      return "EMFILE";
    case AcceptPause::Enfile:
      return "ENFILE";
    case AcceptPause::Enobufs:
      return "ENOBUFS";
    case AcceptPause::Enomem:
      return "ENOMEM";
    case AcceptPause::OtherError:
      return "other_error";
  }
  return "other_error";
}

AcceptPause acceptPauseFor(int err) {
  switch (err) {
    case 0:
      return AcceptPause::ConnectionLimit;
    case EMFILE:
      return AcceptPause::Emfile;
    case ENFILE:
      return AcceptPause::Enfile;
    case ENOBUFS:
      return AcceptPause::Enobufs;
    case ENOMEM:
      return AcceptPause::Enomem;
    default:
      return AcceptPause::OtherError;
  }
}

void RelaxedHistogram::observe(double seconds) {
  const auto it = std::lower_bound(kDurationBuckets.begin(), kDurationBuckets.end(), seconds);
  buckets_[static_cast<size_t>(it - kDurationBuckets.begin())].add();
  count_.add();
  sum_.store(sum_.load(std::memory_order_relaxed) + seconds, std::memory_order_relaxed);
}

void RelaxedHistogram::addTo(std::array<uint64_t, kBuckets>& buckets, uint64_t& count,
                             double& sum) const {
  for (size_t i = 0; i < kBuckets; ++i) buckets[i] += buckets_[i].get();
  count += count_.get();
  sum += sum_.load(std::memory_order_relaxed);
}

void UpstreamMetrics::countRequest(diagnose::Origin origin, int status) {
  const size_t code =
      status >= 0 && status < static_cast<int>(kStatusCodes) ? static_cast<size_t>(status) : 0;
  requests[originIndex(origin)][code].add();
}

WorkerMetrics::WorkerMetrics() {
  upstreams.push_back(std::make_unique<UpstreamMetrics>());
  none_ = upstreams.front().get();
}

MetricsRegistry::MetricsRegistry(const std::vector<std::string>& upstream_names, uint32_t workers,
                                 std::string version)
    : version_(std::move(version)) {
  upstream_names_.emplace_back();  // slot 0: no upstream
  configured_.push_back(false);
  for (uint32_t i = 0; i < workers; ++i) workers_.push_back(std::make_unique<WorkerMetrics>());
  configureUpstreams(upstream_names);
}

size_t MetricsRegistry::slotOf(const std::string& name) const {
  for (size_t i = 1; i < upstream_names_.size(); ++i) {
    if (upstream_names_[i] == name) return i;
  }
  return std::string::npos;
}

void MetricsRegistry::configureUpstreams(const std::vector<std::string>& names) {
  std::lock_guard lock(mutex_);
  std::fill(configured_.begin(), configured_.end(), false);
  for (const auto& name : names) {
    size_t slot = slotOf(name);
    if (slot == std::string::npos) {
      upstream_names_.push_back(name);
      configured_.push_back(false);
      for (auto& w : workers_) {
        w->upstreams.push_back(std::make_unique<UpstreamMetrics>());
        w->upstreams.back()->certificates = &certificates_;
      }
      slot = upstream_names_.size() - 1;
    }
    configured_[slot] = true;
  }
}

std::vector<UpstreamMetrics*> MetricsRegistry::upstreamSlots(
    uint32_t worker, const std::vector<std::string>& names) {
  std::lock_guard lock(mutex_);
  std::vector<UpstreamMetrics*> out;
  for (const auto& name : names) {
    const size_t slot = slotOf(name);
    out.push_back(slot == std::string::npos ? nullptr : workers_[worker]->upstreams[slot].get());
  }
  return out;
}

void MetricsRegistry::countReload(bool success) {
  (success ? reloads_success_ : reloads_failure_).add();
}

void MetricsRegistry::setConfigHash(std::string hash) {
  std::lock_guard lock(mutex_);
  config_hash_ = std::move(hash);
}

std::vector<MetricFamily> MetricsRegistry::collect() const {
  std::lock_guard lock(mutex_);
  std::vector<MetricFamily> out;
  MetricFamily requests = family(kRequestsTotal);
  MetricFamily failures = family(kFailuresTotal);
  MetricFamily retries = family(kRetriesTotal);
  MetricFamily request_duration = family(kRequestDuration);
  MetricFamily connect_duration = family(kConnectDuration);
  MetricFamily header_duration = family(kHeaderDuration);
  MetricFamily in_flight = family(kInFlight);
  MetricFamily upstream_connections = family(kUpstreamConnections);
  MetricFamily drains = family(kUpstreamDrains);
  MetricFamily refused = family(kRetriesRefused);
  MetricFamily races = family(kKeepaliveRaces);
  MetricFamily idle_close_seconds = family(kUpstreamIdleClose);

  auto histogram = [](const std::string& upstream, auto member, const auto& workers, size_t index) {
    std::array<uint64_t, RelaxedHistogram::kBuckets> buckets{};
    uint64_t count = 0;
    double sum = 0;
    for (const auto& w : workers) (w->upstreams[index].get()->*member).addTo(buckets, count, sum);
    ClientMetric m;
    m.label = {label("upstream", upstream)};
    m.histogram.sample_count = count;
    m.histogram.sample_sum = sum;
    uint64_t cumulative = 0;
    for (size_t b = 0; b < RelaxedHistogram::kBuckets; ++b) {
      cumulative += buckets[b];
      ClientMetric::Bucket bucket;
      bucket.cumulative_count = cumulative;
      bucket.upper_bound = b < kDurationBuckets.size() ? kDurationBuckets[b]
                                                       : std::numeric_limits<double>::infinity();
      m.histogram.bucket.push_back(bucket);
    }
    return m;
  };

  for (size_t u = 0; u < upstream_names_.size(); ++u) {
    const std::string& name = upstream_names_[u];
    const bool routed = configured_[u];
    for (size_t o = 0; o < kOrigins.size(); ++o) {
      for (size_t code = 0; code < kStatusCodes; ++code) {
        uint64_t total = 0;
        for (const auto& w : workers_) total += w->upstreams[u]->requests[o][code].get();
        if (total == 0) continue;
        ClientMetric m;
        m.label = {label("upstream", name), label("code", std::to_string(code)),
                   label("origin", std::string(diagnose::originName(kOrigins[o])))};
        m.counter.value = static_cast<double>(total);
        requests.metric.push_back(std::move(m));
      }
    }
    for (size_t c = 1; c < kCauseCount; ++c) {
      uint64_t f = 0;
      uint64_t r = 0;
      for (const auto& w : workers_) {
        f += w->upstreams[u]->failures[c].get();
        r += w->upstreams[u]->retries[c].get();
      }
      const std::string cause(diagnose::causeName(static_cast<diagnose::FailureCause>(c)));
      if (f > 0 || routed) {
        // Every (upstream, cause) series exists from the start at 0, so rate() and alerts see
        // the first failure as an increase rather than as a new series.
        ClientMetric m;
        m.label = {label("upstream", name), label("cause", cause)};
        m.counter.value = static_cast<double>(f);
        failures.metric.push_back(std::move(m));
      }
      if (r > 0) {
        ClientMetric m;
        m.label = {label("upstream", name), label("cause", cause)};
        m.counter.value = static_cast<double>(r);
        retries.metric.push_back(std::move(m));
      }
    }
    if (!routed) continue;
    request_duration.metric.push_back(
        histogram(name, &UpstreamMetrics::request_duration, workers_, u));
    connect_duration.metric.push_back(
        histogram(name, &UpstreamMetrics::connect_duration, workers_, u));
    header_duration.metric.push_back(
        histogram(name, &UpstreamMetrics::header_duration, workers_, u));
    int64_t flight = 0;
    int64_t active = 0;
    int64_t idle = 0;
    for (const auto& w : workers_) {
      flight += w->upstreams[u]->in_flight.get();
      active += w->upstreams[u]->connections_active.get();
      idle += w->upstreams[u]->connections_idle.get();
    }
    ClientMetric f;
    f.label = {label("upstream", name)};
    f.gauge.value = static_cast<double>(flight);
    in_flight.metric.push_back(std::move(f));
    for (const auto& [state, value] : {std::pair{"active", active}, std::pair{"idle", idle}}) {
      ClientMetric m;
      m.label = {label("upstream", name), label("state", state)};
      m.gauge.value = static_cast<double>(value);
      upstream_connections.metric.push_back(std::move(m));
    }
    for (size_t o = 0; o < kRaceOutcomes; ++o) {
      uint64_t n = 0;
      for (const auto& w : workers_) n += w->upstreams[u]->keepalive_races[o].get();
      ClientMetric m;
      m.label = {label("upstream", name),
                 label("outcome", std::string(raceOutcomeName(static_cast<RaceOutcome>(o))))};
      m.counter.value = static_cast<double>(n);
      races.metric.push_back(std::move(m));
    }
    for (size_t c = 1; c < kCauseCount; ++c) {
      for (size_t r = 1; r < diagnose::kRetryRefusals; ++r) {
        uint64_t n = 0;
        for (const auto& w : workers_) n += w->upstreams[u]->retries_refused[c][r].get();
        if (n == 0) continue;
        ClientMetric m;
        m.label = {
            label("upstream", name),
            label("cause",
                  std::string(diagnose::causeName(static_cast<diagnose::FailureCause>(c)))),
            label("reason",
                  std::string(diagnose::retryRefusalName(static_cast<diagnose::RetryRefusal>(r))))};
        m.counter.value = static_cast<double>(n);
        refused.metric.push_back(std::move(m));
      }
    }
    int64_t idle_close = 0;  // the shortest any worker knows
    for (const auto& w : workers_) {
      const int64_t ms = w->upstreams[u]->idle_close_ms.get();
      if (ms > 0 && (idle_close == 0 || ms < idle_close)) idle_close = ms;
    }
    if (idle_close > 0) {
      ClientMetric m;
      m.label = {label("upstream", name)};
      m.gauge.value = static_cast<double>(idle_close) / 1000.0;
      idle_close_seconds.metric.push_back(std::move(m));
    }
    for (size_t r = 0; r < kDrainResults; ++r) {
      // At 0 from the start, like the failures.
      uint64_t n = 0;
      for (const auto& w : workers_) n += w->upstreams[u]->drains[r].get();
      ClientMetric m;
      m.label = {label("upstream", name),
                 label("result", std::string(drainResultName(static_cast<DrainResult>(r))))};
      m.counter.value = static_cast<double>(n);
      drains.metric.push_back(std::move(m));
    }
  }

  MetricFamily downstream = family(kDownstreamConnections);
  int64_t clients = 0;
  for (const auto& w : workers_) clients += w->downstream_connections.get();
  ClientMetric d;
  d.gauge.value = static_cast<double>(clients);
  downstream.metric.push_back(std::move(d));

  MetricFamily pauses = family(kAcceptPauses);
  for (size_t r = 0; r < kAcceptPauseReasons; ++r) {
    const std::string reason(acceptPauseName(static_cast<AcceptPause>(r)));
    uint64_t data = 0;
    for (const auto& w : workers_) data += w->listener.pauses[r].get();
    // At 0 from the start, like the failures.
    for (const auto& [listener, n] : {std::pair<const char*, uint64_t>{"data", data},
                                      {"admin", admin_listener_.pauses[r].get()}}) {
      ClientMetric m;
      m.label = {label("listener", listener), label("reason", reason)};
      m.counter.value = static_cast<double>(n);
      pauses.metric.push_back(std::move(m));
    }
  }

  MetricFamily reloads = family(kConfigReloads);
  for (const auto& [result, n] :
       {std::pair<const char*, uint64_t>{"success", reloads_success_.get()},
        {"failure", reloads_failure_.get()}}) {
    ClientMetric m;
    m.label = {label("result", result)};
    m.counter.value = static_cast<double>(n);
    reloads.metric.push_back(std::move(m));
  }
  MetricFamily config_info = family(kConfigInfo);
  if (!config_hash_.empty()) {
    ClientMetric m;
    m.label = {label("hash", config_hash_)};
    m.gauge.value = 1;
    config_info.metric.push_back(std::move(m));
  }

  MetricFamily build = family(kBuildInfo);
  ClientMetric b;
  b.label = {label("version", version_)};
  b.gauge.value = 1;
  build.metric.push_back(std::move(b));

  for (auto* f : {&requests, &failures, &retries, &request_duration, &connect_duration,
                  &header_duration, &in_flight, &downstream, &upstream_connections, &drains,
                  &refused, &races, &idle_close_seconds, &pauses, &reloads, &config_info, &build}) {
    out.push_back(std::move(*f));
  }
  collectTls(out);
  for (auto& f : processMetricFamilies(readProcessStats())) out.push_back(std::move(f));
  return out;
}

void UpstreamMetrics::setExemplar(diagnose::FailureCause cause, std::string_view request_id,
                                  std::string_view trace_id) {
  std::lock_guard lock(exemplar_mutex_);
  auto& last = last_failures_[static_cast<size_t>(cause)];
  last.request_id.assign(request_id);
  last.trace_id.assign(trace_id);
  last.at = std::chrono::system_clock::now();
}

std::optional<UpstreamMetrics::LastFailure> UpstreamMetrics::exemplar(size_t cause) const {
  std::lock_guard lock(exemplar_mutex_);
  const auto& last = last_failures_[cause];
  if (last.request_id.empty()) return std::nullopt;
  return last;
}

std::string MetricsRegistry::serializeOpenMetrics() const {
  const auto lookup =
      [this](const std::string& family,
             const std::vector<ClientMetric::Label>& labels) -> std::optional<Exemplar> {
    if (family != kFailuresTotal.name) return std::nullopt;
    std::string_view upstream;
    std::string_view cause;
    for (const auto& l : labels) {
      if (l.name == "upstream") upstream = l.value;
      if (l.name == "cause") cause = l.value;
    }
    const auto c = diagnose::causeByName(cause);
    if (!c) return std::nullopt;
    std::lock_guard lock(mutex_);
    const size_t u = upstream.empty() ? 0 : slotOf(std::string(upstream));
    if (u == std::string::npos) return std::nullopt;
    // The latest across the workers.
    std::optional<UpstreamMetrics::LastFailure> latest;
    for (const auto& w : workers_) {
      auto e = w->upstreams[u]->exemplar(static_cast<size_t>(*c));
      if (e && (!latest || e->at > latest->at)) latest = std::move(e);
    }
    if (!latest) return std::nullopt;
    Exemplar e;
    e.labels.push_back(label("request_id", latest->request_id));
    if (!latest->trace_id.empty()) e.labels.push_back(label("trace_id", latest->trace_id));
    e.at = latest->at;
    return e;
  };
  return toOpenMetrics(collect(), lookup);
}

std::string MetricsRegistry::serialize() const {
  std::ostringstream out;
  prometheus::TextSerializer().Serialize(out, collect());
  return out.str();
}

}  // namespace triaged::observe
