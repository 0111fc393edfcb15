#pragma once

// THE table of failure causes: one row per cause, and nothing about a cause anywhere else but
// its texts in config/hints.toml (keyed by the name in the second column). The FailureCause enum
// (failure.h) and the CauseInfo rows (failure_table.cc) are both generated from it, so adding a
// cause is one row here plus its hint texts.
//
// Columns:
//   id        FailureCause enumerator
//   name      stable snake_case name: log `cause`, metric label, hint key (never renamed:
//             operators' alerts match on it)
//   class     log `class`
//   status    the status of a proxy-made reply; 0: the upstream's status stands
//   origin    who produced the status the client saw (Proxy, Upstream, Client)
//   retry     RetryRule: Never, NothingSent (always safe), IfIdempotent (RFC 9110 9.2.2)
//   type      RFC 9209 Proxy-Status error type of a proxy-made reply ("" where triaged makes no
//             reply: a failure after the head, or a passed-on upstream status, which get a
//             received-status entry instead; "proxy_internal_error" stands in for any other)
//   severity  Severity: Client, Warning (capacity), Error (breakage)
//   episode   what a burst of it usually means, for the triage report's episodes

// clang-format off
#define TRIAGED_CAUSES(X)                                                                                                                                \
  /* id                     name                       class             status origin    retry         type                         severity episode */ \
  X(ConnectRefused,        "connect_refused",         "refused",        502, Proxy,    NothingSent,  "connection_refused",        Error,   "looks like a restart or crash of the upstream") \
  X(ConnectTimeout,        "connect_timeout",         "timeout",        504, Proxy,    NothingSent,  "connection_timeout",        Error,   "a slow or unreachable period of the upstream") \
  X(ConnectError,          "connect_error",           "network",        502, Proxy,    NothingSent,  "destination_unavailable",   Error,   "a network or routing problem between triaged and the upstream") \
  X(TlsCertificateInvalid, "tls_certificate_invalid", "tls",            502, Proxy,    NothingSent,  "tls_certificate_error",     Error,   "an upstream certificate that expired, was replaced or does not match its name") \
  X(TlsHandshakeFailed,    "tls_handshake_failed",    "tls",            502, Proxy,    NothingSent,  "tls_protocol_error",        Error,   "a TLS settings change on one side: versions, ciphers or client certificates") \
  X(TlsProtocolMismatch,   "tls_protocol_mismatch",   "tls",            502, Proxy,    NothingSent,  "tls_protocol_error",        Error,   "a port that speaks plain HTTP where TLS is configured, or TLS where plain HTTP is") \
  X(TlsHandshakeTimeout,   "tls_handshake_timeout",   "timeout",        504, Proxy,    NothingSent,  "connection_timeout",        Error,   "a slow or overloaded upstream: TCP connects, the TLS handshake does not finish") \
  X(DnsFailure,            "dns_failure",             "dns",            502, Proxy,    Never,        "dns_error",                 Error,   "a DNS outage or a missing name") \
  X(NoHealthyEndpoint,     "no_healthy_endpoint",     "unavailable",    503, Proxy,    Never,        "destination_unavailable",   Warning, "an upstream with no address to try") \
  X(LocalOverload,         "local_overload",          "overload",       503, Proxy,    Never,        "connection_limit_reached",  Warning, "an overload or capacity shortfall") \
  X(UpstreamClosedEarly,   "upstream_closed_early",   "crash",          502, Proxy,    IfIdempotent, "connection_terminated",     Error,   "looks like a restart or crash of the upstream") \
  X(UpstreamResetEarly,    "upstream_reset_early",    "crash",          502, Proxy,    IfIdempotent, "connection_terminated",     Error,   "looks like a restart or crash of the upstream") \
  X(StaleKeepalive,        "stale_keepalive",         "keepalive_race", 502, Proxy,    IfIdempotent, "connection_terminated",     Error,   "keep-alive races: the upstream closes idle connections sooner than triaged") \
  X(ResponseHeaderTimeout, "response_header_timeout", "timeout",        504, Proxy,    Never,        "http_response_timeout",     Error,   "a slow period of the upstream") \
  X(RequestTimeout,        "request_timeout",         "timeout",        504, Proxy,    Never,        "http_response_timeout",     Error,   "a slow period of the upstream") \
  X(MalformedResponse,     "malformed_response",      "protocol",       502, Proxy,    Never,        "http_response_incomplete",  Error,   "an upstream that does not speak valid HTTP/1.1") \
  X(TruncatedResponse,     "truncated_response",      "crash",            0, Upstream, Never,        "",                          Error,   "looks like a restart or crash of the upstream") \
  X(BodyIdleTimeout,       "body_idle_timeout",       "timeout",          0, Upstream, Never,        "",                          Error,   "a slow period of the upstream") \
  X(UpstreamAppError,      "upstream_app_error",      "app_error",        0, Upstream, Never,        "",                          Error,   "an application error burst: check the app's logs for that time") \
  X(UpstreamUnavailable,   "upstream_unavailable",    "overload",         0, Upstream, Never,        "",                          Warning, "an overload or capacity shortfall") \
  X(UpstreamGatewayError,  "upstream_gateway_error",  "gateway",          0, Upstream, Never,        "",                          Error,   "a failure behind a further gateway") \
  X(ClientAborted,         "client_aborted",          "client",         499, Client,   Never,        "",                          Client,  "a burst of clients giving up") \
  X(ClientBadRequest,      "client_bad_request",      "client",         400, Proxy,    Never,        "http_request_error",        Client,  "a burst of invalid or oversized requests") \
  X(ClientTimeout,         "client_timeout",          "client",         408, Proxy,    Never,        "http_request_error",        Client,  "a burst of slow or silent clients") \
  X(NoRoute,               "no_route",                "client",         404, Proxy,    Never,        "destination_not_found",     Client,  "requests for a host or path that no [[route]] serves")
// clang-format on
