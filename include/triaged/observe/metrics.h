#pragma once

// Metrics without a lock on the request path. Each worker owns its instruments and is their
// only writer (relaxed atomic load + store: no read-modify-write, no shared cache line between
// workers); the admin thread reads them at scrape time and merges the workers into the
// Prometheus families of metric_table.h. prometheus-cpp's own Histogram::Observe takes a mutex,
// so its core library is used only for the data model and the text serializer.

#include <prometheus/metric_family.h>

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "triaged/diagnose/classifier.h"
#include "triaged/diagnose/failure.h"
#include "triaged/observe/metric_table.h"
#include "triaged/observe/tls_metrics.h"

namespace triaged::observe {

// Written by one thread, read by any.
class RelaxedCounter {
 public:
  void add(uint64_t n = 1) {
    value_.store(value_.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
  }
  uint64_t get() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<uint64_t> value_{0};
};

class RelaxedGauge {
 public:
  void add(int64_t n) {
    value_.store(value_.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
  }
  int64_t get() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<int64_t> value_{0};
};

class RelaxedHistogram {
 public:
  static constexpr size_t kBuckets = kDurationBuckets.size() + 1;  // + Inf
  void observe(double seconds);
  // Adds this histogram's buckets (not cumulative), count and sum into the arguments.
  void addTo(std::array<uint64_t, kBuckets>& buckets, uint64_t& count, double& sum) const;

 private:
  std::array<RelaxedCounter, kBuckets> buckets_;
  RelaxedCounter count_;
  std::atomic<double> sum_{0.0};
};

using diagnose::kCauseCount;
inline constexpr size_t kStatusCodes = 600;

// How the drain of an upstream connection ended: its client went away mid-response, and the rest
// of the response was read and dropped so that the connection could be pooled again. The values
// of triaged_upstream_drains_total's `result` label.
enum class DrainResult : uint8_t {
  Pooled,          // the response ended cleanly; the connection went back to the pool
  PoolFull,        // the response ended cleanly, but the pool was full: closed
  TooLarge,        // more body was left than a drain reads: closed
  NotReusable,     // the response ends the connection (Connection: close, body until close,
                   // 101) or bytes followed it: closed
  Timeout,         // the response did not end within the drain window: closed
  UpstreamClosed,  // the upstream closed or reset the connection during the drain
  Malformed,       // the rest of the response was not valid HTTP: closed
};
inline constexpr size_t kDrainResults = static_cast<size_t>(DrainResult::Malformed) + 1;
std::string_view drainResultName(DrainResult result);

// Why a listener paused accepting: the values of triaged_accept_pauses_total's `reason` label.
enum class AcceptPause : uint8_t { ConnectionLimit, Emfile, Enfile, Enobufs, Enomem, OtherError };
inline constexpr size_t kAcceptPauseReasons = static_cast<size_t>(AcceptPause::OtherError) + 1;
std::string_view acceptPauseName(AcceptPause reason);
// The reason for an accept() that failed with `err` (0: the owner's connection limit).
AcceptPause acceptPauseFor(int err);

// One listener's pauses, written by the one thread that runs it.
struct ListenerMetrics {
  std::array<RelaxedCounter, kAcceptPauseReasons> pauses;
};

// What became of a stale keep-alive race (a pooled connection the upstream closes as it is
// used): triaged_keepalive_races_total's `outcome` label.
enum class RaceOutcome : uint8_t {
  Avoided,   // the connection was retired or skipped before use: no request went into the close
  Absorbed,  // a request met it and was retried on a fresh connection
  Surfaced,  // a request met it and could not be retried: the client got 502 stale_keepalive
};
inline constexpr size_t kRaceOutcomes = 3;
std::string_view raceOutcomeName(RaceOutcome outcome);

// One upstream's instruments in one worker. Index kNoUpstream holds requests that never
// reached an upstream (bad requests, no route): their upstream label is empty.
struct UpstreamMetrics {
  std::array<std::array<RelaxedCounter, kStatusCodes>, 3> requests;  // [origin][status]
  std::array<RelaxedCounter, kCauseCount> failures;
  std::array<RelaxedCounter, kCauseCount> retries;
  std::array<RelaxedCounter, kDrainResults> drains;           // [DrainResult]
  std::array<RelaxedCounter, kRaceOutcomes> keepalive_races;  // [RaceOutcome]
  // [cause][diagnose::RetryRefusal]: failures of a retryable cause that were not retried.
  std::array<std::array<RelaxedCounter, diagnose::kRetryRefusals>, kCauseCount> retries_refused;
  // The shortest idle time after which the upstream closes pooled connections, as this worker
  // knows it (its Keep-Alive header, or closes seen); 0: not known.
  RelaxedGauge idle_close_ms;
  RelaxedHistogram request_duration;
  RelaxedHistogram connect_duration;
  RelaxedHistogram header_duration;
  RelaxedGauge in_flight;
  RelaxedGauge connections_active;
  RelaxedGauge connections_idle;
  std::array<RelaxedCounter, 2> tls_handshakes;  // [resumed]: full handshakes, then resumed
  // Process-wide, set by the registry: certificates seen in handshakes (rarely written).
  CertificateExpiry* certificates = nullptr;

  void countRequest(diagnose::Origin origin, int status);

  // The latest failure of each cause, for the OpenMetrics exemplar of its failures series.
  // Written by the worker on a failure, read by the admin thread at a scrape: the mutex is
  // taken by those two only, never on a request that succeeds.
  struct LastFailure {
    std::string request_id;
    std::string trace_id;
    std::chrono::system_clock::time_point at{};
  };
  void setExemplar(diagnose::FailureCause cause, std::string_view request_id,
                   std::string_view trace_id);
  std::optional<LastFailure> exemplar(size_t cause) const;

 private:
  mutable std::mutex exemplar_mutex_;
  std::array<LastFailure, kCauseCount> last_failures_;
};

struct WorkerMetrics {
  WorkerMetrics();
  // Slot 0 holds requests that reached no upstream; the others, upstreams by name, in the order
  // they were first configured (a slot outlives a reload that removes its upstream, so its
  // counters never go backwards). Grown only by MetricsRegistry, under its mutex; the worker
  // thread holds references to the slots, never indexes this vector.
  std::vector<std::unique_ptr<UpstreamMetrics>> upstreams;
  RelaxedGauge downstream_connections;
  ListenerMetrics listener;  // this worker's share of the data listener
  // Handshakes of clients with the TLS listener that failed, by reason.
  std::array<RelaxedCounter, diagnose::kTlsClientFailures> tls_client_failures;

  UpstreamMetrics& none() { return *none_; }

 private:
  UpstreamMetrics* none_;
};

// Process-wide: owns every worker's instruments; outlives the workers.
class MetricsRegistry {
 public:
  MetricsRegistry(const std::vector<std::string>& upstream_names, uint32_t workers,
                  std::string version);

  WorkerMetrics& worker(uint32_t index) { return *workers_[index]; }
  // The admin listener's, written by the main thread.
  ListenerMetrics& adminListener() { return admin_listener_; }
  // The expiry of the serving certificate and of the upstreams' certificates as seen.
  CertificateExpiry& certificates() { return certificates_; }
  // A TLS listener runs: its handshake failures are exported (at 0 from the start).
  void setTlsListener(bool on) { tls_listener_ = on; }

  // The configured upstreams are `names` from now on: slots are added for new names (their
  // series appear at 0), removed names keep their slots and counters but lose their zero
  // series. Any thread.
  void configureUpstreams(const std::vector<std::string>& names);
  // For `worker`, each name's slot in the order given (nullptr for a name never configured).
  std::vector<UpstreamMetrics*> upstreamSlots(uint32_t worker,
                                              const std::vector<std::string>& names);

  // Reloads by result, and the configuration in force (triaged_config_info{hash}).
  void countReload(bool success);
  void setConfigHash(std::string hash);

  // The merged families, ready for prometheus::TextSerializer (plus process_* and build info).
  std::vector<prometheus::MetricFamily> collect() const;
  // Prometheus text exposition format.
  std::string serialize() const;
  // OpenMetrics, with exemplars on triaged_failures_total (observe/openmetrics.h).
  std::string serializeOpenMetrics() const;

 private:
  size_t slotOf(const std::string& name) const;  // under mutex_; npos when absent

  mutable std::mutex mutex_;                 // the slots' structure (not their values)
  std::vector<std::string> upstream_names_;  // slot -> label value; slot 0 is ""
  std::vector<bool> configured_;             // slot -> in the configuration in force
  std::vector<std::unique_ptr<WorkerMetrics>> workers_;
  // The TLS families (tls_metrics.cc).
  void collectTls(std::vector<prometheus::MetricFamily>& out) const;

  ListenerMetrics admin_listener_;
  std::string version_;
  CertificateExpiry certificates_;
  bool tls_listener_ = false;
  RelaxedCounter reloads_success_;  // main thread only
  RelaxedCounter reloads_failure_;
  std::string config_hash_;  // under mutex_
};

}  // namespace triaged::observe
