#pragma once

// Types only (after HAProxy's -t.h headers): the vocabulary of failure causes, phases and the
// facts behind a verdict. Names are the stable snake_case strings of PRODUCT.md; operators'
// alerts match on them, so they are never renamed.

#include <cstdint>
#include <string_view>

namespace triaged::diagnose {

// Named stages of a request's life. The same words appear in logs (`phase`) and in README.
enum class Phase : uint8_t {
  Accept,
  ReadRequestHeaders,
  Route,
  ConnectUpstream,
  SendRequest,
  ReadResponseHeaders,
  StreamBody,
  Complete,
};

enum class FailureSource : uint8_t { Client, Upstream, Proxy, Dns };

// Who produced the status the client saw.
enum class Origin : uint8_t { Proxy, Upstream, Client };

enum class FailureCause : uint8_t {
  None,
  ConnectRefused,
  ConnectTimeout,
  ConnectError,
  DnsFailure,
  NoHealthyEndpoint,
  LocalOverload,
  UpstreamClosedEarly,
  UpstreamResetEarly,
  StaleKeepalive,
  ResponseHeaderTimeout,
  RequestTimeout,
  MalformedResponse,
  TruncatedResponse,
  BodyIdleTimeout,
  UpstreamAppError,
  UpstreamUnavailable,
  UpstreamGatewayError,
  ClientAborted,
  ClientBadRequest,
  ClientTimeout,
  NoRoute,  // extension: no [[route]] matches the request (404, origin proxy)
};

// One row of the cause table: name, class, the status a proxy-made reply gets (0 when the
// status is the upstream's or none is sent) and the origin.
struct CauseInfo {
  FailureCause cause;
  std::string_view name;
  std::string_view cause_class;
  int status;
  Origin origin;
};

}  // namespace triaged::diagnose
