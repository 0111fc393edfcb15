#pragma once

// Every metric triaged exports, declared once with its help text (Envoy keeps one stats table;
// the names and labels are PRODUCT.md's and operators' alerts rely on them).

#include <prometheus/metric_type.h>

#include <array>
#include <string_view>

namespace triaged::observe {

struct MetricDef {
  std::string_view name;
  prometheus::MetricType type;
  std::string_view help;
};

inline constexpr MetricDef kRequestsTotal{
    "triaged_requests_total", prometheus::MetricType::Counter,
    "Requests answered, by upstream, status code and origin of the status (upstream, proxy, "
    "client)."};
inline constexpr MetricDef kFailuresTotal{
    "triaged_failures_total", prometheus::MetricType::Counter,
    "Requests that did not end in a complete upstream response below 500, by final cause."};
inline constexpr MetricDef kRetriesTotal{
    "triaged_retries_total", prometheus::MetricType::Counter,
    "Failed attempts absorbed by a safe retry, by the cause the retry absorbed."};
inline constexpr MetricDef kRequestDuration{
    "triaged_request_duration_seconds", prometheus::MetricType::Histogram,
    "Time from the complete request head to the end of the response."};
inline constexpr MetricDef kConnectDuration{"triaged_upstream_connect_duration_seconds",
                                            prometheus::MetricType::Histogram,
                                            "TCP connect time of new upstream connections."};
inline constexpr MetricDef kHeaderDuration{
    "triaged_upstream_header_duration_seconds", prometheus::MetricType::Histogram,
    "Time from the request handed to the upstream to its complete response head."};
inline constexpr MetricDef kInFlight{"triaged_requests_in_flight", prometheus::MetricType::Gauge,
                                     "Requests routed to an upstream and not yet finished."};
inline constexpr MetricDef kDownstreamConnections{
    "triaged_downstream_connections", prometheus::MetricType::Gauge, "Open client connections."};
inline constexpr MetricDef kUpstreamConnections{
    "triaged_upstream_connections", prometheus::MetricType::Gauge,
    "Open upstream connections, in use (active) or pooled (idle)."};
inline constexpr MetricDef kUpstreamDrains{
    "triaged_upstream_drains_total", prometheus::MetricType::Counter,
    "Upstream connections whose client left before the response ended, by how reading the rest "
    "of the response to keep the connection ended (pooled, or why it was closed)."};
inline constexpr MetricDef kRetriesRefused{
    "triaged_retries_refused_total", prometheus::MetricType::Counter,
    "Failures of a cause that may be retried which were not, by upstream, cause and reason: "
    "not_idempotent (RFC 9110 9.2.2: the upstream may have applied it), body_too_large (over "
    "the 64 KiB kept for a replay), retries_spent."};
inline constexpr MetricDef kKeepaliveRaces{
    "triaged_keepalive_races_total", prometheus::MetricType::Counter,
    "Stale keep-alive races by outcome: avoided (a pooled connection retired before the "
    "upstream's idle close, found closed, or passed over for a request that may not be "
    "replayed), absorbed (met, and retried), surfaced (met, and answered 502)."};
inline constexpr MetricDef kUpstreamIdleClose{
    "triaged_upstream_idle_close_seconds", prometheus::MetricType::Gauge,
    "The shortest idle time after which the upstream closes pooled connections, as triaged "
    "knows it from its Keep-Alive header or from the closes it has seen; absent while unknown. "
    "keepalive_idle_timeout should be below it."};
inline constexpr MetricDef kAcceptPauses{
    "triaged_accept_pauses_total", prometheus::MetricType::Counter,
    "Times a listener stopped accepting connections for a moment, by listener (data, admin) and "
    "reason: its connection limit (max_client_connections), or accept() failing for want of "
    "descriptors or memory (EMFILE, ENFILE, ENOBUFS, ENOMEM). Accepted connections are served "
    "meanwhile; new ones wait in the kernel's backlog."};
inline constexpr MetricDef kTlsCertificateExpiry{
    "triaged_tls_certificate_expiry_timestamp_seconds", prometheus::MetricType::Gauge,
    "When a certificate expires (its notAfter, seconds since the epoch): the serving "
    "certificate (upstream=\"\") and each upstream's certificate as last seen in a handshake."};
inline constexpr MetricDef kTlsClientHandshakeFailures{
    "triaged_tls_client_handshake_failures_total", prometheus::MetricType::Counter,
    "Client handshakes with the TLS listener that failed, by reason: plaintext_http, "
    "no_shared_version, no_shared_cipher, unknown_sni, client_alert, bad_hello, closed, timeout, "
    "other."};
inline constexpr MetricDef kUpstreamTlsHandshakes{
    "triaged_upstream_tls_handshakes_total", prometheus::MetricType::Counter,
    "TLS handshakes with an upstream that finished, by whether they resumed a session."};
inline constexpr MetricDef kConfigReloads{
    "triaged_config_reloads_total", prometheus::MetricType::Counter,
    "Configuration reloads (SIGHUP, or a change of the file with watch_config), by result: "
    "success, or failure (the previous configuration stays in force)."};
inline constexpr MetricDef kConfigInfo{
    "triaged_config_info", prometheus::MetricType::Gauge,
    "Always 1; the hash label names the configuration in force (the same effective "
    "configuration has the same hash on every instance, so a fleet can see skew)."};
inline constexpr MetricDef kBuildInfo{"triaged_build_info", prometheus::MetricType::Gauge,
                                      "Always 1; the version label says which build runs."};

// Histogram bucket upper bounds in seconds (plus +Inf).
inline constexpr std::array<double, 14> kDurationBuckets{
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};

}  // namespace triaged::observe
