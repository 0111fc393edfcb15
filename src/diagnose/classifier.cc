#include "triaged/diagnose/classifier.h"

#include <cerrno>

#include "triaged/core/text.h"
#include "triaged/diagnose/failure_table.h"

namespace triaged::diagnose {
namespace {

double msBetween(TimePoint from, TimePoint to) {
  return std::chrono::duration<double, std::milli>(to - from).count();
}

bool contains(std::string_view haystack, std::string_view needle) {
  return haystack.find(needle) != std::string_view::npos;
}

constexpr size_t kBodyPrefixBytes = 512;
// Header values quoted as evidence (Server, Via, Proxy-Status, X-Triaged-Cause, Retry-After)
// are cut after this many bytes: they come from the upstream, and each failure line repeats them.
constexpr size_t kMaxEvidenceValue = 256;

}  // namespace

bool isIdempotentMethod(std::string_view method) {
  return method == "GET" || method == "HEAD" || method == "OPTIONS" || method == "TRACE" ||
         method == "PUT" || method == "DELETE";
}

Classifier::Classifier(TimePoint start, bool idempotent, bool has_body)
    : start_(start), idempotent_(idempotent), has_body_(has_body) {}

void Classifier::fail(FailureCause cause, int err) {
  if (attempt_cause_ != FailureCause::None) return;  // the first failure is the cause
  attempt_cause_ = cause;
  fail_phase_ = phase_;
  fail_after_head_ = head_complete_;
  err_ = err;
}

void Classifier::onRouted() { phase_ = Phase::ConnectUpstream; }

void Classifier::onAcquireFailed(FailureCause cause, std::string detail) {
  phase_ = Phase::ConnectUpstream;
  evidence_.detail = std::move(detail);
  // No endpoint was tried for this outcome. After a retry the evidence still describes the
  // attempt before (its endpoint, connect time, connection): that attempt is in the chain, and
  // must not pass for this one.
  evidence_.endpoint.clear();
  evidence_.reused = false;
  evidence_.requests_on_connection = 0;
  evidence_.idle_ms = -1;
  evidence_.connect_ms.reset();
  fail(cause, 0);
}

void Classifier::onAttemptStart(std::string endpoint, bool reused, uint32_t requests_on_connection,
                                int64_t idle_ms, TimePoint now) {
  phase_ = Phase::ConnectUpstream;
  attempt_start_ = now;
  evidence_.endpoint = std::move(endpoint);
  evidence_.reused = reused;
  evidence_.requests_on_connection = requests_on_connection;
  evidence_.idle_ms = reused ? idle_ms : -1;
  evidence_.connect_ms.reset();
  if (reused) {
    evidence_.connect_ms = 0.0;
    phase_ = Phase::SendRequest;
  }
}

void Classifier::onConnected(TimePoint now, bool tls) {
  evidence_.connect_ms = msBetween(attempt_start_, now);
  evidence_.tls_handshake = tls;
  phase_ = tls ? Phase::TlsHandshake : Phase::SendRequest;
}

void Classifier::onTlsEstablished() { phase_ = Phase::SendRequest; }

void Classifier::onTlsHandshakeFailed(TlsFailure failure) {
  FailureCause cause = FailureCause::TlsHandshakeFailed;
  switch (failure.kind) {
    case TlsFailureKind::CertificateExpired:
    case TlsFailureKind::CertificateNotYetValid:
    case TlsFailureKind::UnknownCa:
    case TlsFailureKind::NameMismatch:
    case TlsFailureKind::CertificateInvalid:
      cause = FailureCause::TlsCertificateInvalid;
      break;
    case TlsFailureKind::NotTls:
      cause = FailureCause::TlsProtocolMismatch;
      break;
    case TlsFailureKind::PeerAlert:
    case TlsFailureKind::NoSharedProtocol:
    case TlsFailureKind::Closed:
    case TlsFailureKind::Other:
      break;
  }
  phase_ = Phase::TlsHandshake;
  evidence_.tls_handshake = true;
  evidence_.detail = failure.problem;
  const int err = failure.err;
  evidence_.tls = std::move(failure);
  fail(cause, err);
}

bool looksLikeTlsRecord(std::string_view bytes) {
  // RFC 8446 5.1: a record starts with its content type (change_cipher_spec 20, alert 21,
  // handshake 22, application_data 23) and the legacy version 3.x.
  if (bytes.size() < 2) return false;
  const auto type = static_cast<unsigned char>(bytes[0]);
  const auto major = static_cast<unsigned char>(bytes[1]);
  const bool minor_ok = bytes.size() < 3 || static_cast<unsigned char>(bytes[2]) <= 4;
  return type >= 20 && type <= 23 && major == 3 && minor_ok;
}

std::string hexBytes(std::string_view bytes, size_t max) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  for (size_t i = 0; i < bytes.size() && i < max; ++i) {
    if (!out.empty()) out += ' ';
    const auto b = static_cast<unsigned char>(bytes[i]);
    out += kDigits[b >> 4U];
    out += kDigits[b & 0xfU];
  }
  return out;
}

void Classifier::onResponseStart(std::string_view bytes) {
  if (looksLikeTlsRecord(bytes)) tls_record_start_ = hexBytes(bytes, 8);
}

void Classifier::onConnectFailed(int err, TimePoint now) {
  // How long the connect took to fail ("ECONNREFUSED after 0.2 ms").
  evidence_.connect_ms = msBetween(attempt_start_, now);
  FailureCause cause = FailureCause::ConnectError;
  if (err == ECONNREFUSED) cause = FailureCause::ConnectRefused;
  if (err == ETIMEDOUT) cause = FailureCause::ConnectTimeout;
  fail(cause, err);
}

void Classifier::onRequestSent(TimePoint now) {
  request_sent_ = now;
  if (phase_ == Phase::SendRequest) phase_ = Phase::ReadResponseHeaders;
}

void Classifier::onResponseHead(int status, const http::Headers& headers, TimePoint now) {
  head_complete_ = true;
  phase_ = Phase::StreamBody;
  evidence_.upstream_status = status;
  evidence_.header_ms =
      msBetween(request_sent_ == TimePoint{} ? attempt_start_ : request_sent_, now);
  status_cause_ = causeForUpstreamStatus(status);
  if (status == 503) {
    const http::Header* ra = http::findHeader(headers, "retry-after");
    if (ra != nullptr) evidence_.retry_after = printable(ra->value, kMaxEvidenceValue);
  }
  if (status_cause_ == FailureCause::UpstreamGatewayError) {
    // The head is gone once the body streams: keep what it says about the hop.
    hop_from_headers_ = gatewayHopFromHeaders(headers);
    evidence_.hop = hop_from_headers_;
  }
}

void Classifier::onResponseBodyPrefix(std::string_view bytes) {
  if (status_cause_ != FailureCause::UpstreamGatewayError) return;
  if (body_prefix_.size() >= kBodyPrefixBytes) return;
  body_prefix_.append(bytes.substr(0, kBodyPrefixBytes - body_prefix_.size()));
  evidence_.hop = joinHopHints(hop_from_headers_, gatewayHopFromBody(body_prefix_));
}

void Classifier::onMalformedResponse(std::string detail) {
  if (!head_complete_ && !tls_record_start_.empty()) {
    // Not malformed HTTP: a TLS server answering the plain request it could not read (an alert,
    // or a handshake record) on a port configured for plain HTTP.
    TlsFailure f;
    f.kind = TlsFailureKind::NotTls;
    f.received = tls_record_start_;
    f.problem = "the upstream answered with a TLS record (" + tls_record_start_ +
                ") where an HTTP response was due: it speaks TLS on this port, where tls = false "
                "expects plain HTTP: set tls = true";
    evidence_.detail = f.problem;
    evidence_.tls = std::move(f);
    fail(FailureCause::TlsProtocolMismatch, 0);
    return;
  }
  evidence_.detail = std::move(detail);
  // Garbage after the head was already forwarded still cuts the response short.
  fail(head_complete_ ? FailureCause::TruncatedResponse : FailureCause::MalformedResponse, 0);
  if (head_complete_) evidence_.detail = "malformed body: " + evidence_.detail;
}

void Classifier::onUpstreamClosed(bool reset, int err) {
  if (head_complete_) {
    fail(FailureCause::TruncatedResponse, err);
    return;
  }
  const uint64_t received = evidence_.response_bytes_received;
  evidence_.partial_head = received > 0;
  if (evidence_.reused && received == 0) {
    // A pooled connection that the upstream closed just as we reused it: the keep-alive race.
    fail(FailureCause::StaleKeepalive, err);
    return;
  }
  fail(reset ? FailureCause::UpstreamResetEarly : FailureCause::UpstreamClosedEarly, err);
}

void Classifier::onTimeout(TimeoutKind kind, std::string detail) {
  if (!detail.empty()) evidence_.detail = std::move(detail);
  switch (kind) {
    case TimeoutKind::Connect:
      // connect_timeout covers TCP and TLS; which of the two ran out is named apart, so a slow
      // handshake is never mistaken for SYNs that go unanswered.
      if (phase_ == Phase::TlsHandshake) {
        if (evidence_.detail.empty()) {
          evidence_.detail = "TCP connected, TLS handshake not finished within connect_timeout";
        }
        fail(FailureCause::TlsHandshakeTimeout, 0);
      } else {
        fail(FailureCause::ConnectTimeout, ETIMEDOUT);
      }
      break;
    case TimeoutKind::ResponseHeader:
      fail(FailureCause::ResponseHeaderTimeout, 0);
      break;
    case TimeoutKind::Request:
      fail(FailureCause::RequestTimeout, 0);
      break;
    case TimeoutKind::BodyIdle:
      fail(FailureCause::BodyIdleTimeout, 0);
      break;
    case TimeoutKind::Pending:
      phase_ = Phase::ConnectUpstream;
      fail(FailureCause::LocalOverload, 0);
      break;
  }
}

void Classifier::onResponseComplete() {
  complete_ = true;
  phase_ = Phase::Complete;
}

void Classifier::onClientGone(int err) {
  if (complete_) return;
  client_gone_ = true;
  client_err_ = err;
}

bool Classifier::retryable(uint32_t attempts_made, uint32_t max_attempts,
                           bool body_replayable) const {
  if (head_complete_ || attempts_made >= max_attempts) return false;
  if (attempt_cause_ == FailureCause::None) return false;
  switch (causeInfo(attempt_cause_).retry) {
    case RetryRule::NothingSent:
      return true;  // nothing reached the upstream
    case RetryRule::IfIdempotent:
      // Nothing of the request left triaged: as safe as a failed connect.
      if (nothing_written_) return true;
      return idempotent_ && (!has_body_ || body_replayable);
    case RetryRule::Never:
      return false;
  }
  return false;
}

RetryRefusal Classifier::retryRefusal(uint32_t attempts_made, uint32_t max_attempts,
                                      bool body_replayable) const {
  if (attempt_cause_ == FailureCause::None || head_complete_) return RetryRefusal::None;
  if (causeInfo(attempt_cause_).retry == RetryRule::Never) return RetryRefusal::None;
  if (retryable(attempts_made, max_attempts, body_replayable)) return RetryRefusal::None;
  if (attempts_made >= max_attempts) return RetryRefusal::RetriesSpent;
  if (!idempotent_) return RetryRefusal::NotIdempotent;
  return RetryRefusal::BodyTooLarge;
}

std::string_view retryRefusalName(RetryRefusal refusal) {
  switch (refusal) {
    case RetryRefusal::None:
      return "";
    case RetryRefusal::RetriesSpent:
      return "retries_spent";
    case RetryRefusal::NotIdempotent:
      return "not_idempotent";
    case RetryRefusal::BodyTooLarge:
      return "body_too_large";
  }
  return "";
}

std::string_view retryRefusalText(RetryRefusal refusal, uint32_t max_attempts) {
  switch (refusal) {
    case RetryRefusal::None:
      return "";
    case RetryRefusal::RetriesSpent:
      return max_attempts <= 1 ? "not retried: retries = 0"
                               : "not retried: the retry on a fresh connection failed too";
    case RetryRefusal::NotIdempotent:
      return "not retried: the method is not idempotent (RFC 9110 9.2.2) and the request carried "
             "no Idempotency-Key, and the upstream may have applied it before the connection "
             "died: check the app's logs for this request id before repeating it";
    case RetryRefusal::BodyTooLarge:
      return "not retried: its body was larger than the 64 KiB kept for a replay";
  }
  return "";
}

void Classifier::beginRetry() {
  AttemptRecord rec;
  rec.endpoint = evidence_.endpoint;
  rec.cause = attempt_cause_;
  rec.phase = fail_phase_;
  rec.err = err_;
  rec.reused = evidence_.reused;
  rec.requests_on_connection = evidence_.requests_on_connection;
  rec.idle_ms = evidence_.idle_ms;
  attempts_.push_back(std::move(rec));
  absorbed_ = attempt_cause_;
  attempt_cause_ = FailureCause::None;
  err_ = 0;
  nothing_written_ = false;
  evidence_.request_bytes_sent = 0;
  evidence_.response_bytes_received = 0;
  evidence_.partial_head = false;
  evidence_.header_ms.reset();
  evidence_.tls.reset();
  evidence_.tls_handshake = false;
  evidence_.detail.clear();
  tls_record_start_.clear();
  request_sent_ = TimePoint{};
}

Verdict Classifier::verdict() const {
  Verdict v;
  if (attempt_cause_ != FailureCause::None) {
    const auto& info = causeInfo(attempt_cause_);
    v.cause = attempt_cause_;
    v.phase = fail_phase_;
    v.err = err_;
    v.after_head = fail_after_head_;
    // Once the head went out, the client saw the upstream's status whatever cut the body short
    // (a truncation, a stalled body, request_timeout): that is the status to log and count, and
    // the contract's origin for failures after the head is the upstream.
    if (fail_after_head_ || info.status == 0) {
      v.status = evidence_.upstream_status;
      v.origin = Origin::Upstream;
    } else {
      v.status = info.status;
      v.origin = info.origin;
    }
    return v;
  }
  if (client_gone_) {
    v.cause = FailureCause::ClientAborted;
    v.phase = phase_;
    v.err = client_err_;
    v.status = 499;
    v.origin = Origin::Client;
    return v;
  }
  v.cause = status_cause_;
  v.phase = phase_;
  v.status = evidence_.upstream_status;
  v.origin = Origin::Upstream;
  return v;
}

std::string identifyGatewayHop(const http::Headers& headers, std::string_view body) {
  return joinHopHints(gatewayHopFromHeaders(headers), gatewayHopFromBody(body));
}

std::string gatewayHopFromHeaders(const http::Headers& headers) {
  std::string out;
  auto add = [&out](std::string_view label, std::string_view value, std::string_view end = "") {
    if (!out.empty()) out += "; ";
    out.append(label).append(printable(value, kMaxEvidenceValue)).append(end);
  };
  if (const auto* ps = http::findHeader(headers, "proxy-status")) add("Proxy-Status: ", ps->value);
  if (const auto* tc = http::findHeader(headers, "x-triaged-cause")) {
    add("another triaged (cause ", tc->value, ")");
  }
  if (const auto* via = http::findHeader(headers, "via")) add("Via: ", via->value);
  if (const auto* server = http::findHeader(headers, "server")) add("Server: ", server->value);
  return out;
}

std::string joinHopHints(std::string from_headers, std::string_view from_body) {
  if (!from_body.empty()) {
    if (!from_headers.empty()) from_headers += "; ";
    from_headers += from_body;
  }
  return from_headers;
}

std::string_view gatewayHopFromBody(std::string_view body) {
  if (contains(body, "<center>nginx")) {
    return "nginx default error page";
  }
  if (contains(body, "The server returned an invalid or incomplete response") ||
      contains(body, "The server didn't respond in time") ||
      contains(body, "No server is available to handle this request")) {
    return "HAProxy default error page";
  }
  if (contains(body, "upstream connect error or disconnect/reset before headers") ||
      contains(body, "no healthy upstream") || contains(body, "upstream request timeout")) {
    return "Envoy default error body";
  }
  return {};
}

}  // namespace triaged::diagnose
