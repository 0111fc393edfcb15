#pragma once

// FailureReporter: the one path every failure takes, client side or upstream side, final or
// absorbed by a retry (after Envoy's access-log sink chain). Whoever saw the failure describes
// it in a FailureRecord; the reporter fills the hint's fields from it, renders the hint, writes
// the one structured line through the rate limiter, records the failure for the triage report
// and counts it in the metrics. Nobody else logs or counts a failure.
// One per worker (and one for the admin loop), used on its loop's thread only.

#include <chrono>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "triaged/config/config.h"
#include "triaged/core/event_loop.h"
#include "triaged/diagnose/classifier.h"
#include "triaged/diagnose/failure.h"
#include "triaged/diagnose/triage_hint.h"
#include "triaged/observe/failure_log.h"
#include "triaged/observe/metrics.h"
#include "triaged/observe/triage_store.h"

namespace triaged::observe {

// One failure as its witness saw it. Views only: valid for the duration of report().
struct FailureRecord {
  enum class Kind : uint8_t {
    Upstream,  // a request's final cause, seen by its session ("upstream_failure")
    Request,   // a request refused before it had a session: parse errors, limits, 405, 408
               // ("request_failure")
    Retry,     // an attempt that failed and was retried: the client did not see it
               // ("upstream_retry")
  };
  Kind kind = Kind::Upstream;
  diagnose::FailureCause cause = diagnose::FailureCause::None;
  int status = 0;  // what the client saw (Retry: what this attempt alone would have given)
  diagnose::Origin origin = diagnose::Origin::Proxy;
  diagnose::Phase phase = diagnose::Phase::ReadRequestHeaders;
  const config::UpstreamConfig* upstream = nullptr;  // nullptr: the request reached none
  std::string_view endpoint;
  std::string_view request_id;
  std::string_view method;
  std::string_view path;
  std::string_view client;
  int err = 0;
  double total_ms = 0;
  // Upstream side: the facts behind the verdict and the attempts a retry absorbed.
  const diagnose::Evidence* evidence = nullptr;
  std::span<const diagnose::AttemptRecord> attempts;
  diagnose::FailureCause absorbed = diagnose::FailureCause::None;
  std::string_view detail;     // parser error, limit, DNS error text...
  std::string_view dns_error;  // the endpoint's last resolution error
  // What was decided about retrying this failure, and why ("retried on a fresh connection",
  // "not retried: POST is not idempotent and the upstream may have applied it").
  std::string_view retry;
  // What is known of the upstream's idle close (stale_keepalive): "about 4.9 s (learned ...)".
  std::string_view upstream_idle_close;
  std::string_view trace_id;
};

// The evidence as hint fields: one place that knows which record field fills which
// placeholder. Exposed for tests.
diagnose::HintFields hintFieldsFor(const FailureRecord& record);

class FailureReporter {
 public:
  FailureReporter(EventLoop& loop, const config::LogConfig& log, const diagnose::HintCatalog& hints,
                  TriageRecorder& triage);

  // A reload: the log settings and hint catalog of the new configuration (owned by the worker's
  // snapshot, which outlives this use).
  void reconfigure(const config::LogConfig& log, const diagnose::HintCatalog& hints);

  // Logs (through the limiter), records and counts `record`. `metrics` are the instruments of
  // the record's upstream (WorkerMetrics::none() for a request that reached none).
  void report(const FailureRecord& record, UpstreamMetrics& metrics);

  // What triaged knows of an upstream endpoint's idle close (for /debug/triage).
  void noteIdleClose(std::string_view upstream, std::string_view endpoint,
                     std::chrono::milliseconds idle_close, std::string_view source,
                     std::chrono::milliseconds keepalive_idle_timeout) const;

  // A client's handshake with the TLS listener failed (no request, so no cause): counted by
  // `reason` and logged as "tls_client_failure" through the same limiter, one key per reason, so
  // a scan of the port is a few lines and a count, never a line per connection.
  void reportTlsClientFailure(diagnose::TlsClientFailure reason, std::string_view client,
                              std::string_view server_name, std::string_view detail,
                              WorkerMetrics& metrics);

  // The rendered hint of an event that is not a failure (endpoint_recovered...), in the
  // configured language.
  std::string eventHint(std::string_view event, const diagnose::HintFields& fields) const;

 private:
  std::string hintFor(const FailureRecord& record, const diagnose::HintFields& fields) const;

  const config::LogConfig* log_;
  const diagnose::HintCatalog* hints_;
  TriageRecorder& triage_;
  FailureLog log_lines_;
};

// "12.3" (one decimal), as hints and fields print milliseconds.
std::string formatMs(double ms);
// "250ms", as hints print configured durations.
std::string formatDuration(std::chrono::milliseconds d);

}  // namespace triaged::observe
