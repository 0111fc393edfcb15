#pragma once

// The one builder of responses triaged makes itself for a failure (400, 404, 405, 408, 413, 431,
// 502, 503, 504): status from the cause table's row or the limit that was hit, the cause in
// X-Triaged-Cause, the request id, the framing the client's connection needs (Connection: close
// when it ends after this response, Connection: keep-alive for an HTTP/1.0 client that keeps it;
// RFC 9112 9.3 and 9.6), and a short text body naming the status, the cause and the request id.
// Pure: no sockets.

#include <string>
#include <string_view>

#include "triaged/diagnose/failure.h"

namespace triaged::proxy {

struct LocalReply {
  int status = 0;
  diagnose::FailureCause cause = diagnose::FailureCause::None;
  std::string_view request_id;
  std::string_view detail;  // an extra "detail:" body line (client-side failures)
  bool close = true;        // the connection closes after this response
  bool announce_keep_alive = false;
  // Internal addresses, only with log.expose_details.
  bool expose_details = false;
  std::string_view endpoint;
  int err = 0;
  std::string_view allow;  // 405: the methods that are allowed
};

std::string buildErrorResponse(const LocalReply& reply);

// RFC 9209 Proxy-Status members this proxy writes. For a reply it made:
// `triaged; error=connection_refused; details="connect_refused"` (the type from the cause table,
// proxy_internal_error when it has none). For an upstream's 5xx passed on:
// `triaged; received-status=502; details="upstream_gateway_error"`.
std::string proxyStatusForReply(diagnose::FailureCause cause);
std::string proxyStatusForPassedOn(int status, diagnose::FailureCause cause);

}  // namespace triaged::proxy
