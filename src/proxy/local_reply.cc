#include "triaged/proxy/local_reply.h"

#include <spdlog/fmt/fmt.h>

#include "triaged/diagnose/failure_table.h"
#include "triaged/http/header_rewrite.h"
#include "triaged/net/socket_address.h"

namespace triaged::proxy {

namespace {

// How this hop names itself in Proxy-Status (an sf-token).
constexpr std::string_view kProxyName = "triaged";

}  // namespace

std::string proxyStatusForReply(diagnose::FailureCause cause) {
  const auto& info = diagnose::causeInfo(cause);
  const std::string_view type =
      info.proxy_status.empty() ? "proxy_internal_error" : info.proxy_status;
  // Cause names are [a-z_]: a valid sf-string as they are.
  return fmt::format("{}; error={}; details=\"{}\"", kProxyName, type, info.name);
}

std::string proxyStatusForPassedOn(int status, diagnose::FailureCause cause) {
  return fmt::format("{}; received-status={}; details=\"{}\"", kProxyName, status,
                     diagnose::causeName(cause));
}

std::string buildErrorResponse(const LocalReply& r) {
  const std::string_view cause = diagnose::causeName(r.cause);
  std::string body = fmt::format("{} {}\ncause: {}\nrequest_id: {}\n", r.status,
                                 http::reasonPhrase(r.status), cause, r.request_id);
  if (!r.detail.empty()) body += fmt::format("detail: {}\n", r.detail);
  if (r.expose_details && !r.endpoint.empty()) {
    body += fmt::format("endpoint: {}\n", r.endpoint);
    if (r.err != 0) body += fmt::format("errno: {}\n", net::errnoName(r.err));
  }
  std::string extra = "Proxy-Status: " + proxyStatusForReply(r.cause) + "\r\n";
  if (!r.allow.empty()) extra += fmt::format("Allow: {}\r\n", r.allow);
  return http::buildLocalReply(r.status, cause, r.request_id, body, r.close,
                               r.announce_keep_alive && !r.close, extra);
}

}  // namespace triaged::proxy
