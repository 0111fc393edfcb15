#include "triaged/proxy/local_reply.h"

#include <spdlog/fmt/fmt.h>

#include "triaged/diagnose/failure_table.h"
#include "triaged/http/header_rewrite.h"
#include "triaged/net/socket_address.h"

namespace triaged::proxy {

std::string buildErrorResponse(const LocalReply& r) {
  const std::string_view cause = diagnose::causeName(r.cause);
  std::string body = fmt::format("{} {}\ncause: {}\nrequest_id: {}\n", r.status,
                                 http::reasonPhrase(r.status), cause, r.request_id);
  if (!r.detail.empty()) body += fmt::format("detail: {}\n", r.detail);
  if (r.expose_details && !r.endpoint.empty()) {
    body += fmt::format("endpoint: {}\n", r.endpoint);
    if (r.err != 0) body += fmt::format("errno: {}\n", net::errnoName(r.err));
  }
  std::string extra;
  if (!r.allow.empty()) extra = fmt::format("Allow: {}\r\n", r.allow);
  return http::buildLocalReply(r.status, cause, r.request_id, body, r.close,
                               r.announce_keep_alive && !r.close, extra);
}

}  // namespace triaged::proxy
