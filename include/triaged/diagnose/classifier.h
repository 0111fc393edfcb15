#pragma once

// Classifier: follows one request through its phases and decides its single final cause. The
// data path only reports what it saw (connect results, bytes, heads, closes, timeouts); every
// decision of the form "this FIN on a pooled connection before any byte is a stale keep-alive"
// lives here, as pure logic that unit tests drive event by event. After HAProxy's two-axis
// termination state (who ended it x at which stage) and linkerd's ClassifyEos: the verdict is
// final only at end of stream — a 200 whose body is cut off is a failure.
// Owned by its ProxySession; single-threaded.

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "triaged/diagnose/failure.h"
#include "triaged/http/message.h"

namespace triaged::diagnose {

using TimePoint = std::chrono::steady_clock::time_point;

enum class TimeoutKind : uint8_t { Connect, ResponseHeader, Request, BodyIdle, Pending };

// A certificate as evidence quotes it (filled by net/tls.cc from X.509; plain strings here).
struct CertificateFacts {
  std::string subject;     // RFC 2253 one-line form: "CN=app.internal,O=Example"
  std::string issuer;      // the same form
  std::string not_before;  // "2026-01-02T03:04:05Z"
  std::string not_after;
  std::string names;  // what it may be used for: "DNS:app.internal, IP Address:10.0.0.7"
};

// What went wrong in a TLS handshake with an upstream, as net/tls.cc found it in OpenSSL's
// verify result, error queue and the peer's first bytes. The classifier maps the kind to a cause.
enum class TlsFailureKind : uint8_t {
  CertificateExpired,      // the certificate's notAfter has passed
  CertificateNotYetValid,  // its notBefore is still to come
  UnknownCa,               // no chain to a trusted CA (tls_ca, or the system's)
  NameMismatch,            // valid, but not for the name triaged verified
  CertificateInvalid,      // another verification failure (revoked, bad signature, purpose...)
  PeerAlert,               // the upstream aborted the handshake with a fatal alert
  NoSharedProtocol,        // no TLS version or cipher both sides accept (found by triaged)
  NotTls,                  // the upstream's first bytes are not a TLS record (plain HTTP)
  Closed,                  // the upstream closed or reset the connection mid-handshake, silently
  Other,
};

struct TlsFailure {
  TlsFailureKind kind = TlsFailureKind::Other;
  int err = 0;                   // the socket's errno, when the socket failed (ECONNRESET)
  std::string problem;           // one line saying exactly what, e.g. "expired on 2026-01-02T..."
  std::string alert;             // the alert received, e.g. "certificate required (116)"
  std::string received;          // NotTls: the first bytes the upstream sent, printable
  std::string server_name;       // the name triaged sent as SNI and verified ("" when none)
  CertificateFacts certificate;  // the certificate the failure is about (when there is one)
};

// One upstream attempt as it ended; the chain of these is logged with the final verdict.
struct AttemptRecord {
  std::string endpoint;
  FailureCause cause = FailureCause::None;
  Phase phase = Phase::ConnectUpstream;
  int err = 0;
  bool reused = false;
  uint32_t requests_on_connection = 0;
  int64_t idle_ms = -1;
};

// The facts behind the verdict (of the last attempt, and of the whole request).
struct Evidence {
  std::string endpoint;
  bool reused = false;
  uint32_t requests_on_connection = 0;  // exchanges the connection served before this one
  int64_t idle_ms = -1;                 // how long the reused connection sat idle
  std::optional<double> connect_ms;
  std::optional<double> header_ms;  // request sent -> response head complete
  uint64_t request_bytes_sent = 0;
  uint64_t response_bytes_received = 0;
  bool partial_head = false;  // closed after some, but not all, of the response head
  int upstream_status = 0;
  std::string hop;          // for 502/504 passed on: which further gateway made it
  std::string retry_after;  // for 503 passed on
  std::string detail;       // parse error, DNS error, limits...
  // A TLS handshake with the upstream failed: the facts behind the tls_* causes.
  std::optional<TlsFailure> tls;
  bool tls_handshake = false;  // the attempt's connection is TLS (tls_handshake is a phase)
};

struct Verdict {
  FailureCause cause = FailureCause::None;  // None: a complete response below 500
  Phase phase = Phase::Complete;
  int err = 0;
  // What the client saw: the table's status for a proxy-made reply; the upstream's once its head
  // went out (a failure after that cannot change the status line, only cut the body); or 499.
  int status = 0;
  Origin origin = Origin::Upstream;  // who produced that status
  bool after_head = false;           // the failure came after the response head went out
};

// A TLS record header (RFC 8446 5.1): content type 20-23, legacy version 3.x.
bool looksLikeTlsRecord(std::string_view bytes);
// "16 03 01 00": the first `max` bytes in hex, for evidence.
std::string hexBytes(std::string_view bytes, size_t max);

// RFC 9110 9.2.2: GET, HEAD, OPTIONS, TRACE, PUT and DELETE.
bool isIdempotentMethod(std::string_view method);

// Why a failure whose cause may be retried was not (PRODUCT.md, safe retry, v2).
enum class RetryRefusal : uint8_t {
  None,           // retried, or a cause that is never retried
  RetriesSpent,   // retries = 0, or the retry failed too
  NotIdempotent,  // written to the upstream, and it may have applied it (RFC 9110 9.2.2)
  BodyTooLarge,   // idempotent, but its body was too large to keep for a replay
};
inline constexpr size_t kRetryRefusals = 4;
// The metric label: "retries_spent", "not_idempotent", "body_too_large" ("" for None).
std::string_view retryRefusalName(RetryRefusal refusal);
// The log's retry_decision and the hint's {retry}.
std::string_view retryRefusalText(RetryRefusal refusal, uint32_t max_attempts);

class Classifier {
 public:
  // `idempotent`: the request may be sent twice (an idempotent method, or an Idempotency-Key).
  Classifier(TimePoint start, bool idempotent, bool has_body);
  // A method name would convert to `true` silently.
  Classifier(TimePoint start, const char* method, bool has_body) = delete;

  // --- events, in the order the data path sees them ---
  void onRouted();
  void onAcquireFailed(FailureCause cause, std::string detail);  // dns, none healthy, overload
  void onAttemptStart(std::string endpoint, bool reused, uint32_t requests_on_connection,
                      int64_t idle_ms, TimePoint now);
  // TCP connected. `tls`: a TLS handshake follows (phase tls_handshake) before onTlsEstablished.
  void onConnected(TimePoint now, bool tls = false);
  void onConnectFailed(int err, TimePoint now);
  void onTlsEstablished();
  void onTlsHandshakeFailed(TlsFailure failure);
  // The first bytes of a response on a plain connection (for a TLS record where HTTP was due).
  void onResponseStart(std::string_view bytes);
  void onRequestBytesSent(uint64_t n) { evidence_.request_bytes_sent += n; }
  void onRequestSent(TimePoint now);  // the whole request is with the upstream
  void onResponseBytes(uint64_t n) { evidence_.response_bytes_received += n; }
  void onResponseHead(int status, const http::Headers& headers, TimePoint now);
  // The first bytes of a 502/504 body, to recognise another proxy's default error page.
  void onResponseBodyPrefix(std::string_view bytes);
  void onMalformedResponse(std::string detail);
  // EOF (reset == false) or RST before the response completed.
  void onUpstreamClosed(bool reset, int err);
  // `detail` says what ran out where the timer alone does not (a pending wait: for what).
  void onTimeout(TimeoutKind kind, std::string detail = {});
  void onResponseComplete();
  void onClientGone(int err);

  // The current attempt's failure (None while it is going well).
  FailureCause attemptCause() const { return attempt_cause_; }
  // The contract's safe-retry rule (PRODUCT.md, v2) for the current attempt's failure: a connect
  // failure, or nothing of the request written, is always safe; a request that was written and
  // died before any response byte only when it is idempotent and its body can be sent again.
  bool retryable(uint32_t attempts_made, uint32_t max_attempts, bool body_replayable) const;
  // Why the current attempt's failure may not be retried; None when it may, or when its cause
  // is never retried.
  RetryRefusal retryRefusal(uint32_t attempts_made, uint32_t max_attempts,
                            bool body_replayable) const;
  // No byte of this attempt's request reached the connection (a pooled connection found closed
  // before it was written to).
  void onNothingWritten() { nothing_written_ = true; }
  // The failed attempt is absorbed by a retry: record it and reset per-attempt facts.
  void beginRetry();

  Phase phase() const { return phase_; }
  bool responseStarted() const { return head_complete_; }
  Verdict verdict() const;
  const Evidence& evidence() const { return evidence_; }
  const std::vector<AttemptRecord>& attempts() const { return attempts_; }
  // The cause the last retry absorbed (None when there was no retry).
  FailureCause absorbed() const { return absorbed_; }

 private:
  void fail(FailureCause cause, int err);

  TimePoint start_;
  TimePoint attempt_start_{};
  TimePoint request_sent_{};
  bool idempotent_;
  bool has_body_;
  bool nothing_written_ = false;
  bool fail_after_head_ = false;
  Phase phase_ = Phase::Route;
  Phase fail_phase_ = Phase::Route;
  FailureCause attempt_cause_ = FailureCause::None;
  FailureCause status_cause_ = FailureCause::None;
  FailureCause absorbed_ = FailureCause::None;
  int err_ = 0;
  bool head_complete_ = false;
  bool complete_ = false;
  bool client_gone_ = false;
  int client_err_ = 0;
  std::string body_prefix_;
  std::string hop_from_headers_;  // what the 502/504's head said about the hop
  std::string tls_record_start_;  // the response began with a TLS record: these bytes, printable
  Evidence evidence_;
  std::vector<AttemptRecord> attempts_;
};

// Names the further gateway behind a 502/504 from Server, Via, RFC 9209 Proxy-Status,
// X-Triaged-Cause and the default error bodies of nginx, HAProxy and Envoy. Empty if nothing
// identifies it.
std::string identifyGatewayHop(const http::Headers& headers, std::string_view body_prefix);
// Its two halves: what the head says (Proxy-Status, X-Triaged-Cause, Via, Server) and which
// known default error page the body is; joined with "; ".
std::string gatewayHopFromHeaders(const http::Headers& headers);
std::string_view gatewayHopFromBody(std::string_view body_prefix);
std::string joinHopHints(std::string from_headers, std::string_view from_body);

}  // namespace triaged::diagnose
