#pragma once

// Types only (after HAProxy's -t.h headers): the vocabulary of failure causes, phases and the
// facts behind a verdict. Names are the stable snake_case strings of PRODUCT.md; operators'
// alerts match on them, so they are never renamed.

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "triaged/diagnose/cause_table.h"

namespace triaged::diagnose {

// Named stages of a request's life. The same words appear in logs (`phase`) and in README.
enum class Phase : uint8_t {
  Accept,
  ReadRequestHeaders,
  Route,
  ConnectUpstream,
  TlsHandshake,  // TCP connected to the upstream, TLS handshake under way
  SendRequest,
  ReadResponseHeaders,
  StreamBody,
  Complete,
};

enum class FailureSource : uint8_t { Client, Upstream, Proxy, Dns };

// Who produced the status the client saw.
enum class Origin : uint8_t { Proxy, Upstream, Client };

// Generated from the cause table (cause_table.h). None: no failure (a complete response below
// 500). The numeric values are internal (array indexes); the names are the contract.
enum class FailureCause : uint8_t {
  None,
#define TRIAGED_CAUSE_ENUMERATOR(id, ...) id,
  TRIAGED_CAUSES(TRIAGED_CAUSE_ENUMERATOR)
#undef TRIAGED_CAUSE_ENUMERATOR
};

// Size of per-cause arrays (metrics, limiter keys): None plus one per row of the table.
#define TRIAGED_CAUSE_ONE(...) +1
inline constexpr size_t kCauseCount = 1 TRIAGED_CAUSES(TRIAGED_CAUSE_ONE);
#undef TRIAGED_CAUSE_ONE

// When a failed attempt may be tried again on a fresh connection (PRODUCT.md, safe retry;
// RFC 9110 9.2.2: a proxy must not automatically retry a non-idempotent request).
enum class RetryRule : uint8_t {
  Never,         // the upstream answered, a limit was hit, or retrying cannot help
  NothingSent,   // no byte of the request reached the upstream: always safe
  IfIdempotent,  // written, then died before any response byte: idempotent and replayable only
};

// Why a client's handshake with a TLS listener failed: bounded metric labels.
enum class TlsClientFailure : uint8_t {
  PlaintextHttp,    // plain HTTP sent to the TLS port
  NoSharedVersion,  // no TLS version both accept
  NoSharedCipher,   // no cipher suite both accept
  UnknownSni,       // asked for a name the certificate does not carry, then gave up
  ClientAlert,      // the client aborted with an alert (it rejected the certificate...)
  BadHello,         // not a well-formed TLS ClientHello
  Closed,           // closed or reset before the handshake finished
  Timeout,          // did not finish within client_header_timeout
  Other,
};
inline constexpr size_t kTlsClientFailures = static_cast<size_t>(TlsClientFailure::Other) + 1;
// The label of triaged_tls_client_handshake_failures_total: "plaintext_http", ...
std::string_view tlsClientFailureName(TlsClientFailure reason);

// How loud a cause is in reports (the triage report's colours, the fleet view's ranking).
enum class Severity : uint8_t {
  Client,   // the client's doing: not an upstream problem
  Warning,  // overload, unavailability: capacity, not breakage
  Error,    // something is broken between triaged and the app, or in the app
};

// One row of the cause table (failure_table.cc): everything triaged knows about a cause. Adding
// a cause is one row there plus its texts in config/hints.toml.
struct CauseInfo {
  FailureCause cause;
  std::string_view name;         // stable snake_case: log `cause`, metric label, hint key
  std::string_view cause_class;  // log `class`
  int status;                    // what a proxy-made reply gets; 0: the upstream's status stands
  Origin origin;                 // who produced the status the client saw
  RetryRule retry;
  // RFC 9209 error type for the Proxy-Status header of a proxy-made reply ("" for none).
  std::string_view proxy_status;
  Severity severity;
  // What a burst of this cause usually means, for the triage report's episodes.
  std::string_view episode;
};

}  // namespace triaged::diagnose
