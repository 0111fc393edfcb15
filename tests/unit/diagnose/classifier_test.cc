// One case per failure cause: the event sequence the data path reports, and the verdict.

#include "triaged/diagnose/classifier.h"

#include <catch2/catch.hpp>
#include <cerrno>

#include "triaged/diagnose/failure_table.h"

namespace triaged::diagnose {
namespace {

using std::chrono::milliseconds;

const TimePoint kT0 = TimePoint{} + std::chrono::hours(1);

TimePoint at(int ms) { return kT0 + milliseconds(ms); }

Classifier freshGet() {
  Classifier c(kT0, isIdempotentMethod("GET"), false);
  c.onRouted();
  c.onAttemptStart("10.0.3.7:8080", false, 0, -1, at(0));
  return c;
}

Classifier sentGet() {
  Classifier c = freshGet();
  c.onConnected(at(1));
  c.onRequestBytesSent(100);
  c.onRequestSent(at(1));
  return c;
}

Classifier reusedGet() {
  Classifier c(kT0, isIdempotentMethod("GET"), false);
  c.onRouted();
  c.onAttemptStart("10.0.3.7:8080", true, 4, 29'000, at(0));
  c.onRequestBytesSent(100);
  c.onRequestSent(at(0));
  return c;
}

void expectVerdict(const Classifier& c, FailureCause cause, int status, Phase phase) {
  const Verdict v = c.verdict();
  INFO("cause " << causeName(v.cause) << " phase " << phaseName(v.phase));
  CHECK(v.cause == cause);
  CHECK(v.status == status);
  CHECK(v.phase == phase);
}

}  // namespace

TEST_CASE("a complete 200 has no failure cause", "[unit][classifier]") {
  Classifier c = sentGet();
  c.onResponseHead(200, {}, at(3));
  c.onResponseBytes(50);
  c.onResponseComplete();
  expectVerdict(c, FailureCause::None, 200, Phase::Complete);
}

TEST_CASE("connect answered with RST is connect_refused, 502, retryable", "[unit][classifier]") {
  Classifier c = freshGet();
  c.onConnectFailed(ECONNREFUSED, at(1));
  expectVerdict(c, FailureCause::ConnectRefused, 502, Phase::ConnectUpstream);
  CHECK(c.verdict().err == ECONNREFUSED);
  REQUIRE(c.evidence().connect_ms);  // how long the refusal took
  CHECK(*c.evidence().connect_ms == Approx(1.0));
  CHECK(c.retryable(1, 2, false));
  CHECK_FALSE(c.retryable(2, 2, false));
}

TEST_CASE("no handshake in time is connect_timeout, 504", "[unit][classifier]") {
  Classifier c = freshGet();
  c.onTimeout(TimeoutKind::Connect);
  expectVerdict(c, FailureCause::ConnectTimeout, 504, Phase::ConnectUpstream);
  CHECK(c.retryable(1, 2, false));
}

TEST_CASE("other connect errno is connect_error, 502", "[unit][classifier]") {
  Classifier c = freshGet();
  c.onConnectFailed(EHOSTUNREACH, at(2));
  expectVerdict(c, FailureCause::ConnectError, 502, Phase::ConnectUpstream);
  CHECK(c.verdict().err == EHOSTUNREACH);
}

TEST_CASE("acquire failures keep their cause: dns, no healthy endpoint, overload",
          "[unit][classifier]") {
  const auto [cause, status] = GENERATE(table<FailureCause, int>({
      {FailureCause::DnsFailure, 502},
      {FailureCause::NoHealthyEndpoint, 503},
      {FailureCause::LocalOverload, 503},
      {FailureCause::NoRoute, 404},
  }));
  Classifier c(kT0, isIdempotentMethod("GET"), false);
  c.onRouted();
  c.onAcquireFailed(cause, "detail");
  expectVerdict(c, cause, status, Phase::ConnectUpstream);
  CHECK(c.evidence().detail == "detail");
  CHECK_FALSE(c.retryable(0, 2, true));
}

TEST_CASE("pending wait that expires is local_overload, 503", "[unit][classifier]") {
  Classifier c(kT0, isIdempotentMethod("GET"), false);
  c.onRouted();
  c.onTimeout(TimeoutKind::Pending, "waited pending_timeout 5000ms");
  expectVerdict(c, FailureCause::LocalOverload, 503, Phase::ConnectUpstream);
  CHECK(c.evidence().detail == "waited pending_timeout 5000ms");
}

TEST_CASE("FIN on a fresh connection before any response byte is upstream_closed_early",
          "[unit][classifier]") {
  Classifier c = sentGet();
  c.onUpstreamClosed(false, 0);
  expectVerdict(c, FailureCause::UpstreamClosedEarly, 502, Phase::ReadResponseHeaders);
  CHECK_FALSE(c.evidence().partial_head);
  CHECK(c.retryable(1, 2, false));  // GET without a body
}

TEST_CASE("FIN inside a partial response head is upstream_closed_early with partial_head",
          "[unit][classifier]") {
  Classifier c = sentGet();
  c.onResponseBytes(20);
  c.onUpstreamClosed(false, 0);
  expectVerdict(c, FailureCause::UpstreamClosedEarly, 502, Phase::ReadResponseHeaders);
  CHECK(c.evidence().partial_head);
}

TEST_CASE("RST on a fresh connection before the head is upstream_reset_early",
          "[unit][classifier]") {
  Classifier c = sentGet();
  c.onUpstreamClosed(true, ECONNRESET);
  expectVerdict(c, FailureCause::UpstreamResetEarly, 502, Phase::ReadResponseHeaders);
  CHECK(c.verdict().err == ECONNRESET);
}

TEST_CASE("early close of a POST with a body is not retried", "[unit][classifier]") {
  Classifier c(kT0, isIdempotentMethod("POST"), true);
  c.onRouted();
  c.onAttemptStart("e", false, 0, -1, at(0));
  c.onConnected(at(1));
  c.onUpstreamClosed(true, ECONNRESET);
  CHECK(c.verdict().cause == FailureCause::UpstreamResetEarly);
  CHECK_FALSE(c.retryable(1, 2, true));
}

TEST_CASE("pooled connection closed before any byte is stale_keepalive, retried when safe",
          "[unit][classifier]") {
  Classifier c = reusedGet();
  c.onUpstreamClosed(false, 0);
  expectVerdict(c, FailureCause::StaleKeepalive, 502, Phase::ReadResponseHeaders);
  CHECK(c.evidence().reused);
  CHECK(c.evidence().idle_ms == 29'000);
  CHECK(c.evidence().requests_on_connection == 4);
  CHECK(c.retryable(1, 2, false));
  c.beginRetry();
  CHECK(c.absorbed() == FailureCause::StaleKeepalive);
  REQUIRE(c.attempts().size() == 1);
  CHECK(c.attempts()[0].cause == FailureCause::StaleKeepalive);
  // The retry on a fresh connection succeeds: the request itself did not fail.
  c.onAttemptStart("10.0.3.7:8080", false, 0, -1, at(5));
  c.onConnected(at(6));
  c.onRequestSent(at(6));
  c.onResponseHead(200, {}, at(8));
  c.onResponseComplete();
  CHECK(c.verdict().cause == FailureCause::None);
}

TEST_CASE("a retry that finds no endpoint keeps none of the refused attempt's evidence",
          "[unit][classifier]") {
  Classifier c = reusedGet();
  c.onUpstreamClosed(false, 0);
  c.beginRetry();
  c.onAcquireFailed(FailureCause::NoHealthyEndpoint, "");
  expectVerdict(c, FailureCause::NoHealthyEndpoint, 503, Phase::ConnectUpstream);
  CHECK(c.evidence().endpoint.empty());
  CHECK_FALSE(c.evidence().connect_ms.has_value());
  CHECK_FALSE(c.evidence().reused);
  CHECK(c.evidence().idle_ms == -1);
  CHECK(c.evidence().requests_on_connection == 0);
  // The attempt before is still on record, with what it saw.
  REQUIRE(c.attempts().size() == 1);
  CHECK(c.attempts()[0].endpoint == "10.0.3.7:8080");
  CHECK(c.attempts()[0].reused);
  CHECK(c.attempts()[0].idle_ms == 29'000);
}

TEST_CASE("a reset pooled connection is retried only when idempotent and replayable (v2)",
          "[unit][classifier]") {
  Classifier put(kT0, isIdempotentMethod("PUT"), true);
  put.onRouted();
  put.onAttemptStart("e", true, 1, 10, at(0));
  put.onUpstreamClosed(true, ECONNRESET);
  CHECK(put.verdict().cause == FailureCause::StaleKeepalive);
  CHECK_FALSE(put.retryable(1, 2, false));
  CHECK(put.retryable(1, 2, true));
  CHECK(put.retryRefusal(1, 2, false) == RetryRefusal::BodyTooLarge);
  CHECK(put.retryRefusal(1, 2, true) == RetryRefusal::None);

  // RFC 9110 9.2.2: a proxy must not retry a non-idempotent request that reached the upstream.
  Classifier post(kT0, isIdempotentMethod("POST"), true);
  post.onRouted();
  post.onAttemptStart("e", true, 1, 10, at(0));
  post.onUpstreamClosed(true, ECONNRESET);
  CHECK(post.verdict().cause == FailureCause::StaleKeepalive);
  CHECK_FALSE(post.retryable(1, 2, true));
  CHECK(post.retryRefusal(1, 2, true) == RetryRefusal::NotIdempotent);
  CHECK_THAT(std::string(retryRefusalText(RetryRefusal::NotIdempotent, 2)),
             Catch::Contains("not idempotent") && Catch::Contains("may have applied"));
  CHECK(post.retryRefusal(2, 2, true) == RetryRefusal::RetriesSpent);
  CHECK(retryRefusalText(RetryRefusal::RetriesSpent, 1) == "not retried: retries = 0");
  CHECK(retryRefusalName(RetryRefusal::NotIdempotent) == "not_idempotent");

  // Nothing of it was written (the connection was found closed first): as safe as a connect.
  Classifier unsent(kT0, isIdempotentMethod("POST"), true);
  unsent.onRouted();
  unsent.onAttemptStart("e", true, 1, 10, at(0));
  unsent.onNothingWritten();
  unsent.onUpstreamClosed(false, 0);
  CHECK(unsent.retryable(1, 2, false));
}

TEST_CASE("a failure after the head keeps the status the client saw, origin upstream",
          "[unit][classifier]") {
  Classifier c = sentGet();
  http::Headers none;
  c.onResponseHead(200, none, at(5));
  c.onResponseBytes(100);
  c.onTimeout(TimeoutKind::Request);
  const Verdict v = c.verdict();
  CHECK(v.cause == FailureCause::RequestTimeout);
  CHECK(v.status == 200);
  CHECK(v.origin == Origin::Upstream);
  CHECK(v.after_head);
}

TEST_CASE("no head within response_header_timeout is response_header_timeout, 504",
          "[unit][classifier]") {
  Classifier c = sentGet();
  c.onTimeout(TimeoutKind::ResponseHeader);
  expectVerdict(c, FailureCause::ResponseHeaderTimeout, 504, Phase::ReadResponseHeaders);
  CHECK_FALSE(c.retryable(1, 2, true));
}

TEST_CASE("request_timeout before the head is request_timeout, 504", "[unit][classifier]") {
  Classifier c = sentGet();
  c.onTimeout(TimeoutKind::Request);
  expectVerdict(c, FailureCause::RequestTimeout, 504, Phase::ReadResponseHeaders);
}

TEST_CASE("invalid HTTP from the upstream is malformed_response, 502", "[unit][classifier]") {
  Classifier c = sentGet();
  c.onResponseBytes(10);
  c.onMalformedResponse("HPE_INVALID_CONSTANT: Expected HTTP/");
  expectVerdict(c, FailureCause::MalformedResponse, 502, Phase::ReadResponseHeaders);
  CHECK(c.evidence().detail.find("HPE_INVALID_CONSTANT") != std::string::npos);
  CHECK_FALSE(c.retryable(1, 2, true));
}

TEST_CASE("close inside the body after a 200 is truncated_response with status 200",
          "[unit][classifier]") {
  Classifier c = sentGet();
  c.onResponseHead(200, {}, at(3));
  c.onResponseBytes(5000);
  c.onUpstreamClosed(false, 0);
  expectVerdict(c, FailureCause::TruncatedResponse, 200, Phase::StreamBody);
  CHECK_FALSE(c.retryable(1, 2, true));
}

TEST_CASE("a stalled body is body_idle_timeout with the status already sent",
          "[unit][classifier]") {
  Classifier c = sentGet();
  c.onResponseHead(206, {}, at(3));
  c.onTimeout(TimeoutKind::BodyIdle);
  expectVerdict(c, FailureCause::BodyIdleTimeout, 206, Phase::StreamBody);
}

TEST_CASE("upstream 5xx statuses are passed through under their own causes", "[unit][classifier]") {
  const auto [status, cause] = GENERATE(table<int, FailureCause>({
      {500, FailureCause::UpstreamAppError},
      {501, FailureCause::UpstreamAppError},
      {505, FailureCause::UpstreamAppError},
      {503, FailureCause::UpstreamUnavailable},
      {502, FailureCause::UpstreamGatewayError},
      {504, FailureCause::UpstreamGatewayError},
      {404, FailureCause::None},
  }));
  Classifier c = sentGet();
  c.onResponseHead(status, {{"Retry-After", "30"}}, at(4));
  c.onResponseComplete();
  expectVerdict(c, cause, status, Phase::Complete);
  CHECK(causeInfo(cause).origin == Origin::Upstream);
}

TEST_CASE("an upstream 503 records Retry-After", "[unit][classifier]") {
  Classifier c = sentGet();
  c.onResponseHead(503, {{"Retry-After", "120"}}, at(4));
  c.onResponseComplete();
  CHECK(c.evidence().retry_after == "120");
}

TEST_CASE("an upstream 502 names the hop from headers and the default error body",
          "[unit][classifier]") {
  Classifier c = sentGet();
  c.onResponseHead(502, {{"Server", "nginx/1.22.1"}}, at(4));
  c.onResponseBodyPrefix("<html><body><center><h1>502 Bad Gateway</h1></center><hr>");
  c.onResponseBodyPrefix("<center>nginx/1.22.1</center></body></html>");
  c.onResponseComplete();
  CHECK(c.verdict().cause == FailureCause::UpstreamGatewayError);
  CHECK(c.evidence().hop.find("Server: nginx/1.22.1") != std::string::npos);
  CHECK(c.evidence().hop.find("nginx default error page") != std::string::npos);
}

TEST_CASE("a truncated 500 counts once, as truncated_response", "[unit][classifier]") {
  Classifier c = sentGet();
  c.onResponseHead(500, {}, at(3));
  c.onUpstreamClosed(true, ECONNRESET);
  expectVerdict(c, FailureCause::TruncatedResponse, 500, Phase::StreamBody);
}

TEST_CASE("client closing before the response completes is client_aborted, 499",
          "[unit][classifier]") {
  Classifier c = sentGet();
  c.onClientGone(ECONNRESET);
  expectVerdict(c, FailureCause::ClientAborted, 499, Phase::ReadResponseHeaders);
}

TEST_CASE("the first failure is the cause: a timeout after a close is not counted twice",
          "[unit][classifier]") {
  Classifier c = sentGet();
  c.onUpstreamClosed(false, 0);
  c.onTimeout(TimeoutKind::Request);
  CHECK(c.verdict().cause == FailureCause::UpstreamClosedEarly);
}

TEST_CASE("timings: connect and header durations come from the reported times",
          "[unit][classifier]") {
  Classifier c = freshGet();
  c.onConnected(at(2));
  c.onRequestSent(at(3));
  c.onResponseHead(200, {}, at(13));
  REQUIRE(c.evidence().connect_ms);
  CHECK(*c.evidence().connect_ms == Approx(2.0));
  REQUIRE(c.evidence().header_ms);
  CHECK(*c.evidence().header_ms == Approx(10.0));
}

TEST_CASE("gateway hop identification", "[unit][classifier]") {
  CHECK(identifyGatewayHop({{"Proxy-Status", "envoy; error=connection_refused"}}, "")
            .find("Proxy-Status: envoy; error=connection_refused") != std::string::npos);
  CHECK(identifyGatewayHop({{"X-Triaged-Cause", "connect_refused"}}, "")
            .find("another triaged (cause connect_refused)") != std::string::npos);
  CHECK(identifyGatewayHop({{"Via", "1.1 edge-lb"}}, "") == "Via: 1.1 edge-lb");
  CHECK(identifyGatewayHop({}, "upstream connect error or disconnect/reset before headers") ==
        "Envoy default error body");
  CHECK(
      identifyGatewayHop({}, "<h1>504 Gateway Time-out</h1>\nThe server didn't respond in time.") ==
      "HAProxy default error page");
  CHECK(identifyGatewayHop({}, "plain").empty());
}

TEST_CASE("a hop named by the upstream's headers is quoted readable and bounded",
          "[unit][classifier]") {
  // obs-text (a Latin-1 byte) and a control byte become U+FFFD: the hop ends up in JSON lines.
  CHECK(identifyGatewayHop({{"Server", "caf\xe9-proxy"}}, "") == "Server: caf\xef\xbf\xbd-proxy");
  CHECK(identifyGatewayHop({{"Via", "1.1 h\x7fp"}}, "") == "Via: 1.1 h\xef\xbf\xbdp");
  // A huge header is not repeated in full in every failure line and hint.
  const std::string huge(20000, 'x');
  const std::string hop = identifyGatewayHop({{"Server", huge}}, "");
  CHECK(hop == "Server: " + std::string(256, 'x') + "...");
}

}  // namespace triaged::diagnose

namespace triaged::diagnose {

// --- TLS: the handshake is a phase of its own -----------------------------------------------

TEST_CASE("TLS handshake failures map to their causes, retried like a failed connect",
          "[unit][classifier][tls]") {
  struct Case {
    TlsFailureKind kind;
    FailureCause cause;
  };
  const Case cases[] = {
      {TlsFailureKind::CertificateExpired, FailureCause::TlsCertificateInvalid},
      {TlsFailureKind::CertificateNotYetValid, FailureCause::TlsCertificateInvalid},
      {TlsFailureKind::UnknownCa, FailureCause::TlsCertificateInvalid},
      {TlsFailureKind::NameMismatch, FailureCause::TlsCertificateInvalid},
      {TlsFailureKind::CertificateInvalid, FailureCause::TlsCertificateInvalid},
      {TlsFailureKind::PeerAlert, FailureCause::TlsHandshakeFailed},
      {TlsFailureKind::NoSharedProtocol, FailureCause::TlsHandshakeFailed},
      {TlsFailureKind::Closed, FailureCause::TlsHandshakeFailed},
      {TlsFailureKind::Other, FailureCause::TlsHandshakeFailed},
      {TlsFailureKind::NotTls, FailureCause::TlsProtocolMismatch},
  };
  for (const auto& tc : cases) {
    Classifier c = freshGet();
    c.onConnected(at(1), /*tls=*/true);
    CHECK(c.phase() == Phase::TlsHandshake);
    TlsFailure f;
    f.kind = tc.kind;
    f.problem = "what exactly";
    c.onTlsHandshakeFailed(f);
    expectVerdict(c, tc.cause, 502, Phase::TlsHandshake);
    CHECK(c.evidence().detail == "what exactly");
    REQUIRE(c.evidence().tls);
    CHECK(c.evidence().tls->kind == tc.kind);
    CHECK(c.evidence().connect_ms == 1.0);  // the TCP connect, apart from the handshake
    CHECK(c.retryable(1, 2, true));         // nothing of the request reached the upstream
    c.beginRetry();
    CHECK_FALSE(c.evidence().tls);
  }
}

TEST_CASE("connect_timeout during the handshake is tls_handshake_timeout (504)",
          "[unit][classifier][tls]") {
  Classifier c = freshGet();
  c.onConnected(at(2), /*tls=*/true);
  c.onTimeout(TimeoutKind::Connect);
  expectVerdict(c, FailureCause::TlsHandshakeTimeout, 504, Phase::TlsHandshake);
  CHECK(c.verdict().err == 0);
  Classifier plain = freshGet();
  plain.onTimeout(TimeoutKind::Connect);
  expectVerdict(plain, FailureCause::ConnectTimeout, 504, Phase::ConnectUpstream);
}

TEST_CASE("after the handshake the request phases follow as on plain connections",
          "[unit][classifier][tls]") {
  Classifier c = freshGet();
  c.onConnected(at(1), /*tls=*/true);
  c.onTlsEstablished();
  CHECK(c.phase() == Phase::SendRequest);
  c.onRequestBytesSent(100);
  c.onRequestSent(at(5));
  c.onResponseHead(200, {}, at(6));
  c.onResponseComplete();
  expectVerdict(c, FailureCause::None, 200, Phase::Complete);
}

TEST_CASE("a TLS record where an HTTP response was due is a mismatch, garbage stays malformed",
          "[unit][classifier][tls]") {
  Classifier c = sentGet();
  c.onResponseStart(std::string_view("\x15\x03\x03\x00\x02\x02\x46", 7));
  c.onResponseBytes(7);
  c.onMalformedResponse("HPE_INVALID_CONSTANT: Expected HTTP/");
  expectVerdict(c, FailureCause::TlsProtocolMismatch, 502, Phase::ReadResponseHeaders);
  REQUIRE(c.evidence().tls);
  CHECK(c.evidence().tls->received == "15 03 03 00 02 02 46");
  CHECK(c.evidence().detail.find("set tls = true") != std::string::npos);

  Classifier g = sentGet();
  g.onResponseStart("SSH-2.0-OpenSSH");
  g.onMalformedResponse("HPE_INVALID_CONSTANT: Expected HTTP/");
  expectVerdict(g, FailureCause::MalformedResponse, 502, Phase::ReadResponseHeaders);
}

TEST_CASE("looksLikeTlsRecord knows the four content types of TLS 1.x", "[unit][classifier][tls]") {
  CHECK(looksLikeTlsRecord(std::string_view("\x16\x03\x01", 3)));
  CHECK(looksLikeTlsRecord(std::string_view("\x15\x03\x03\x00\x02", 5)));
  CHECK(looksLikeTlsRecord(std::string_view("\x17\x03", 2)));
  CHECK_FALSE(looksLikeTlsRecord(std::string_view("\x16\x03\x09", 3)));
  CHECK_FALSE(looksLikeTlsRecord("HTTP/1.1 200 OK"));
  CHECK_FALSE(looksLikeTlsRecord(std::string_view("\x16", 1)));
  CHECK(hexBytes(std::string_view("\x16\x03\xff", 3), 2) == "16 03");
}

}  // namespace triaged::diagnose
