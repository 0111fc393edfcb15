#pragma once

// Builds the heads triaged sends: the request head to the upstream and the response head to the
// client. Pure functions over message.h structs: hop-by-hop removal, X-Forwarded-*, request id,
// and the framing decisions (re-chunking, close-delimited bodies, keep-alive).

#include <cstddef>
#include <string>
#include <string_view>

#include "triaged/http/message.h"

namespace triaged::http {

struct ForwardContext {
  std::string_view client_ip;     // appended to X-Forwarded-For
  std::string_view request_id;    // the client's X-Request-Id, or a generated one
  std::string_view default_host;  // Host to send when the client sent none (HTTP/1.0)
  std::string_view traceparent;   // a W3C traceparent triaged started (the client sent none)
};

// True for headers never forwarded as-is: Connection, Keep-Alive, Proxy-Connection, TE,
// Transfer-Encoding, Upgrade, plus every name listed in Connection. (Trailer is end-to-end.)
bool isHopByHop(std::string_view name, const Headers& all_headers);
// The same with the Connection tokens of the message collected once; for a parsed field, whose
// kind is already known (the one test every head builder uses).
bool isHopByHop(std::string_view name, const ConnectionTokens& listed);
bool isHopByHop(const Header& field, const ConnectionTokens& listed);

// The full request head for the upstream ("METHOD target HTTP/1.1\r\n...\r\n\r\n"), written
// into `out` (cleared first; a buffer kept by the caller, so its capacity is reused).
// Always HTTP/1.1 with keep-alive; body framing: Content-Length kept, chunked re-chunked.
// Upgrade requests keep "Connection: upgrade" and Upgrade.
void buildUpstreamRequestHead(std::string& out, const RequestHead& request,
                              const ForwardContext& ctx);

struct ResponsePlan {
  BodyFraming framing = BodyFraming::None;  // how the body goes to the client
  bool close_after = false;                 // close the client connection after this response
  // An HTTP/1.0 client that asked for keep-alive and keeps it: 1.0 defaults to close, so the
  // response must say "Connection: keep-alive".
  bool announce_keep_alive = false;
  // An RFC 9209 Proxy-Status member appended after the upstream's own ("" for none).
  std::string_view proxy_status;
};

// Decides how to frame `response` to the client that sent `request`.
//   - HEAD request, 1xx, 204, 304: no body (Content-Length passed on unchanged).
//   - Content-Length: kept.
//   - Chunked or until-close: chunked to HTTP/1.1 clients; close-delimited to HTTP/1.0 clients.
//   - close_after when the client asked for it, the client is 1.0 without keep-alive, the body
//     is close-delimited, `force_close` (draining, error) is set, or the request was an upgrade
//     that the upstream did not accept.
//   - 1xx (interim and 101) are never close_after: the final response (or the tunnel) decides.
ResponsePlan planResponse(const RequestHead& request, const ResponseHead& response,
                          bool force_close);

// True when body bytes follow the response head on the wire to the client (a Content-Length
// above 0, chunked, close-delimited): only then may the head wait for them in the kernel.
bool bodyFollows(const ResponseHead& response, const ResponsePlan& plan);

// The response head for the client, following `plan`, written into `out` (cleared first). Adds
// X-Request-Id when the upstream did not send one.
void buildClientResponseHead(std::string& out, const ResponseHead& response,
                             const ResponsePlan& plan, std::string_view request_id);

// A proxy-made response (error or 100 Continue is not one of these): status line, Content-Type
// text/plain, Content-Length, X-Request-Id, X-Triaged-Cause (when cause non-empty), Connection:
// close when `close` (or keep-alive when `announce_keep_alive`, for an HTTP/1.0 client that keeps
// its connection), `extra_header_lines` as given ("Name: value\r\n" each), then `body`.
std::string buildLocalReply(int status, std::string_view cause, std::string_view request_id,
                            std::string_view body, bool close, bool announce_keep_alive = false,
                            std::string_view extra_header_lines = {});

// An interim (1xx) response head for the client: the status line and the upstream's fields,
// hop-by-hop ones removed (103 Early Hints exists for its Link fields). Into `out`, cleared.
void buildInterimResponseHead(std::string& out, const ResponseHead& response);

// Standard reason phrase ("Bad Gateway"); "Unknown" for codes it does not know.
std::string_view reasonPhrase(int status);

// Chunked encoding pieces: "1a2b\r\n" and the last chunk with trailers.
void appendChunkHeader(std::string& out, size_t len);
std::string lastChunk(const Headers& trailers);

}  // namespace triaged::http
