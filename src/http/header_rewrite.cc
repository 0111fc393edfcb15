#include "triaged/http/header_rewrite.h"

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

namespace triaged::http {
namespace {

constexpr std::array<std::string_view, 6> kHopByHop = {
    "Connection", "Keep-Alive", "Proxy-Connection", "TE", "Transfer-Encoding", "Upgrade",
};

// Headers the upstream request gets from us, whatever the client sent under those names.
constexpr std::array<std::string_view, 6> kRegeneratedRequest = {
    "Host",         "Content-Length", "X-Forwarded-For", "X-Forwarded-Proto", "X-Forwarded-Host",
    "X-Request-Id",
};

// Fields that change framing or routing must not ride in a trailer section (RFC 9110 6.5.1);
// a recipient that merges trailers into the head would act on them.
constexpr std::array<std::string_view, 4> kForbiddenTrailers = {
    "Content-Length",
    "Host",
    "Trailer",
    "Content-Encoding",
};

template <size_t N>
bool nameIn(std::string_view name, const std::array<std::string_view, N>& names) {
  for (std::string_view n : names) {
    if (equalsIgnoreCase(name, n)) return true;
  }
  return false;
}

void appendHeader(std::string& out, std::string_view name, std::string_view value) {
  out.append(name);
  out.append(": ");
  out.append(value);
  out.append("\r\n");
}

bool methodExpectsBody(std::string_view method) {
  return method == "POST" || method == "PUT" || method == "PATCH";
}

struct Reason {
  int status;
  std::string_view phrase;
};

// IANA HTTP status code registry, plus 499 (nginx's client-closed, which our access log uses).
constexpr std::array kReasons{
    Reason{100, "Continue"},
    Reason{101, "Switching Protocols"},
    Reason{102, "Processing"},
    Reason{103, "Early Hints"},
    Reason{200, "OK"},
    Reason{201, "Created"},
    Reason{202, "Accepted"},
    Reason{203, "Non-Authoritative Information"},
    Reason{204, "No Content"},
    Reason{205, "Reset Content"},
    Reason{206, "Partial Content"},
    Reason{207, "Multi-Status"},
    Reason{208, "Already Reported"},
    Reason{226, "IM Used"},
    Reason{300, "Multiple Choices"},
    Reason{301, "Moved Permanently"},
    Reason{302, "Found"},
    Reason{303, "See Other"},
    Reason{304, "Not Modified"},
    Reason{305, "Use Proxy"},
    Reason{307, "Temporary Redirect"},
    Reason{308, "Permanent Redirect"},
    Reason{400, "Bad Request"},
    Reason{401, "Unauthorized"},
    Reason{402, "Payment Required"},
    Reason{403, "Forbidden"},
    Reason{404, "Not Found"},
    Reason{405, "Method Not Allowed"},
    Reason{406, "Not Acceptable"},
    Reason{407, "Proxy Authentication Required"},
    Reason{408, "Request Timeout"},
    Reason{409, "Conflict"},
    Reason{410, "Gone"},
    Reason{411, "Length Required"},
    Reason{412, "Precondition Failed"},
    Reason{413, "Content Too Large"},
    Reason{414, "URI Too Long"},
    Reason{415, "Unsupported Media Type"},
    Reason{416, "Range Not Satisfiable"},
    Reason{417, "Expectation Failed"},
    Reason{418, "I'm a teapot"},
    Reason{421, "Misdirected Request"},
    Reason{422, "Unprocessable Content"},
    Reason{423, "Locked"},
    Reason{424, "Failed Dependency"},
    Reason{425, "Too Early"},
    Reason{426, "Upgrade Required"},
    Reason{428, "Precondition Required"},
    Reason{429, "Too Many Requests"},
    Reason{431, "Request Header Fields Too Large"},
    Reason{451, "Unavailable For Legal Reasons"},
    Reason{499, "Client Closed Request"},
    Reason{500, "Internal Server Error"},
    Reason{501, "Not Implemented"},
    Reason{502, "Bad Gateway"},
    Reason{503, "Service Unavailable"},
    Reason{504, "Gateway Timeout"},
    Reason{505, "HTTP Version Not Supported"},
    Reason{506, "Variant Also Negotiates"},
    Reason{507, "Insufficient Storage"},
    Reason{508, "Loop Detected"},
    Reason{510, "Not Extended"},
    Reason{511, "Network Authentication Required"},
};

}  // namespace

bool isHopByHop(std::string_view name, const Headers& all_headers) {
  return nameIn(name, kHopByHop) || headerHasToken(all_headers, "Connection", name);
}

std::string buildUpstreamRequestHead(const RequestHead& request, const ForwardContext& ctx) {
  const Headers& headers = request.headers;
  std::string out;
  out.reserve(256 + headers.size() * 48);
  out.append(request.method);
  out.push_back(' ');
  out.append(request.target);
  out.append(" HTTP/1.1\r\n");

  // Host first, and never subject to Connection: a client listing "Host" there must not be
  // able to strip it.
  const Header* host = findHeader(headers, "Host");
  const std::string_view host_value =
      host != nullptr ? std::string_view(host->value) : ctx.default_host;
  if (!host_value.empty()) appendHeader(out, "Host", host_value);

  std::string xff;
  for (const Header& h : headers) {
    if (equalsIgnoreCase(h.name, "X-Forwarded-For")) {
      if (h.value.empty()) continue;
      if (!xff.empty()) xff.append(", ");
      xff.append(h.value);
      continue;
    }
    if (isHopByHop(h.name, headers) || nameIn(h.name, kRegeneratedRequest)) continue;
    appendHeader(out, h.name, h.value);
  }

  if (request.upgrade) {
    const Header* upgrade = findHeader(headers, "Upgrade");
    if (upgrade != nullptr) {
      appendHeader(out, "Upgrade", upgrade->value);
      appendHeader(out, "Connection", "upgrade");
    }
  }

  if (!xff.empty()) xff.append(", ");
  xff.append(ctx.client_ip);
  appendHeader(out, "X-Forwarded-For", xff);
  appendHeader(out, "X-Forwarded-Proto", "http");
  if (host != nullptr) appendHeader(out, "X-Forwarded-Host", host->value);
  if (!ctx.request_id.empty()) appendHeader(out, "X-Request-Id", ctx.request_id);

  switch (request.framing) {
    case BodyFraming::ContentLength:
      appendHeader(out, "Content-Length", std::to_string(request.content_length));
      break;
    case BodyFraming::Chunked:
      appendHeader(out, "Transfer-Encoding", "chunked");
      break;
    case BodyFraming::None:
    case BodyFraming::UntilClose:  // not a request framing; treated as no body
      // Some servers answer a bodiless POST without a length with 411.
      if (!request.upgrade && methodExpectsBody(request.method)) {
        appendHeader(out, "Content-Length", "0");
      }
      break;
  }
  out.append("\r\n");
  return out;
}

ResponsePlan planResponse(const RequestHead& request, const ResponseHead& response,
                          bool force_close) {
  ResponsePlan plan;
  if (response.status >= 100 && response.status < 200) {
    return plan;  // None, kept open: a final response or the tunnel follows
  }

  const bool no_body = request.isHead() || response.status == 204 || response.status == 304;
  const bool client_is_10 = request.version_major == 1 && request.version_minor == 0;
  if (no_body) {
    plan.framing = BodyFraming::None;
  } else {
    switch (response.framing) {
      case BodyFraming::None:
      case BodyFraming::ContentLength:
        plan.framing = response.framing;
        break;
      case BodyFraming::Chunked:
      case BodyFraming::UntilClose:
        // A 1.0 client cannot read chunked, so its body ends when we close.
        plan.framing = client_is_10 ? BodyFraming::UntilClose : BodyFraming::Chunked;
        break;
    }
  }

  plan.close_after = force_close || !request.keep_alive ||
                     plan.framing == BodyFraming::UntilClose || request.upgrade;
  plan.announce_keep_alive = client_is_10 && !plan.close_after;
  return plan;
}

std::string buildClientResponseHead(const ResponseHead& response, const ResponsePlan& plan,
                                    std::string_view request_id) {
  const Headers& headers = response.headers;
  std::string out;
  out.reserve(256 + headers.size() * 48);
  out.append("HTTP/1.1 ");
  out.append(std::to_string(response.status));
  out.push_back(' ');
  out.append(response.reason.empty() ? reasonPhrase(response.status)
                                     : std::string_view(response.reason));
  out.append("\r\n");

  const bool switching = response.status == 101;
  for (const Header& h : headers) {
    if (isHopByHop(h.name, headers)) continue;
    // Content-Length is ours to state when we frame the body; without a body (HEAD, 304) the
    // upstream's value describes the representation and passes unchanged.
    if (plan.framing != BodyFraming::None && equalsIgnoreCase(h.name, "Content-Length")) continue;
    appendHeader(out, h.name, h.value);
  }

  if (switching) {
    const Header* upgrade = findHeader(headers, "Upgrade");
    if (upgrade != nullptr) appendHeader(out, "Upgrade", upgrade->value);
    appendHeader(out, "Connection", "upgrade");
  }

  switch (plan.framing) {
    case BodyFraming::ContentLength:
      appendHeader(out, "Content-Length", std::to_string(response.content_length));
      break;
    case BodyFraming::Chunked:
      appendHeader(out, "Transfer-Encoding", "chunked");
      break;
    case BodyFraming::None:
    case BodyFraming::UntilClose:
      break;
  }

  if (!response.isInterim() && !switching) {
    if (plan.close_after) {
      appendHeader(out, "Connection", "close");
    } else if (plan.announce_keep_alive) {
      appendHeader(out, "Connection", "keep-alive");
    }
  }
  if (!response.isInterim() && !request_id.empty() &&
      findHeader(headers, "X-Request-Id") == nullptr) {
    appendHeader(out, "X-Request-Id", request_id);
  }
  out.append("\r\n");
  return out;
}

std::string buildLocalReply(int status, std::string_view cause, std::string_view request_id,
                            std::string_view body, bool close) {
  std::string out;
  out.reserve(192 + body.size());
  out.append("HTTP/1.1 ");
  out.append(std::to_string(status));
  out.push_back(' ');
  out.append(reasonPhrase(status));
  out.append("\r\n");
  appendHeader(out, "Content-Type", "text/plain; charset=utf-8");
  appendHeader(out, "Content-Length", std::to_string(body.size()));
  // A proxy error describes this attempt only; a cache must not serve it for the next one.
  appendHeader(out, "Cache-Control", "no-store");
  if (!request_id.empty()) appendHeader(out, "X-Request-Id", request_id);
  if (!cause.empty()) appendHeader(out, "X-Triaged-Cause", cause);
  if (close) appendHeader(out, "Connection", "close");
  out.append("\r\n");
  out.append(body);
  return out;
}

std::string_view reasonPhrase(int status) {
  for (const Reason& r : kReasons) {
    if (r.status == status) return r.phrase;
  }
  return "Unknown";
}

void appendChunkHeader(std::string& out, size_t len) {
  constexpr std::string_view kHex = "0123456789abcdef";
  std::array<char, 16> buf{};  // 16 hex digits hold any 64-bit length
  size_t n = 0;
  auto v = static_cast<uint64_t>(len);
  do {
    buf[buf.size() - 1 - n] = kHex[v & 0xf];
    v >>= 4;
    ++n;
  } while (v != 0);
  out.append(buf.data() + buf.size() - n, n);
  out.append("\r\n");
}

std::string lastChunk(const Headers& trailers) {
  std::string out = "0\r\n";
  for (const Header& h : trailers) {
    if (isHopByHop(h.name, trailers) || nameIn(h.name, kForbiddenTrailers)) continue;
    appendHeader(out, h.name, h.value);
  }
  out.append("\r\n");
  return out;
}

}  // namespace triaged::http
