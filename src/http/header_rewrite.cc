#include "triaged/http/header_rewrite.h"

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

namespace triaged::http {
namespace {

// Headers the upstream request gets from us, whatever the client sent under those names.
bool regeneratedInRequest(KnownHeader kind) {
  switch (kind) {
    case KnownHeader::Host:
    case KnownHeader::ContentLength:
    case KnownHeader::XForwardedFor:
    case KnownHeader::XForwardedProto:
    case KnownHeader::XForwardedHost:
    case KnownHeader::XRequestId:
      return true;
    default:
      return false;
  }
}

// Fields that change framing or routing must not ride in a trailer section (RFC 9110 6.5.1);
// a recipient that merges trailers into the head would act on them.
bool forbiddenInTrailers(KnownHeader kind) {
  switch (kind) {
    case KnownHeader::ContentLength:
    case KnownHeader::Host:
    case KnownHeader::Trailer:
    case KnownHeader::ContentEncoding:
      return true;
    default:
      return false;
  }
}

void appendHeader(std::string& out, std::string_view name, std::string_view value) {
  out.append(name);
  out.append(": ");
  out.append(value);
  out.append("\r\n");
}

// Writes a head into a caller's buffer through a raw cursor: the buffer is sized to its capacity
// up front and trimmed by finish(), so each piece is one memcpy without capacity checks of its
// own (std::string::append checks and may grow on every call, which showed in profiles).
class HeadWriter {
 public:
  explicit HeadWriter(std::string& out) : out_(out) {
    out_.resize(std::max<size_t>(out_.capacity(), kInitial));
    p_ = out_.data();
    end_ = p_ + out_.size();
  }
  HeadWriter(const HeadWriter&) = delete;
  HeadWriter& operator=(const HeadWriter&) = delete;

  void append(std::string_view s) {
    room(s.size());
    put(s);
  }
  void push_back(char c) {
    room(1);
    *p_++ = c;
  }
  void header(std::string_view name, std::string_view value) {
    room(name.size() + value.size() + 4);
    put(name);
    *p_++ = ':';
    *p_++ = ' ';
    put(value);
    *p_++ = '\r';
    *p_++ = '\n';
  }
  void decimal(uint64_t v) {
    std::array<char, 20> buf{};  // 20 digits hold any 64-bit value
    size_t n = 0;
    do {
      buf[buf.size() - 1 - n] = static_cast<char>('0' + v % 10);
      v /= 10;
      ++n;
    } while (v != 0);
    append(std::string_view(buf.data() + buf.size() - n, n));
  }
  // The framing header of a body we frame ourselves; nothing for None and UntilClose.
  void framing(BodyFraming framing, uint64_t content_length) {
    if (framing == BodyFraming::ContentLength) {
      append("Content-Length: ");
      decimal(content_length);
      append("\r\n");
    } else if (framing == BodyFraming::Chunked) {
      header("Transfer-Encoding", "chunked");
    }
  }
  void finish() { out_.resize(static_cast<size_t>(p_ - out_.data())); }

 private:
  static constexpr size_t kInitial = 1024;
  void put(std::string_view s) {
    std::memcpy(p_, s.data(), s.size());
    p_ += s.size();
  }
  void room(size_t n) {
    if (static_cast<size_t>(end_ - p_) >= n) return;
    const auto used = static_cast<size_t>(p_ - out_.data());
    out_.resize(std::max(out_.size() * 2, used + n));
    p_ = out_.data() + used;
    end_ = out_.data() + out_.size();
  }

  std::string& out_;
  char* p_;
  char* end_;
};

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
  return isHopByHop(name, ConnectionTokens(all_headers));
}

bool isHopByHop(std::string_view name, const ConnectionTokens& listed) {
  return isHopByHopName(knownHeader(name)) || listed.contains(name);
}

bool isHopByHop(const Header& field, const ConnectionTokens& listed) {
  return isHopByHopName(kindOf(field)) || listed.contains(field.name);
}

void buildUpstreamRequestHead(std::string& out, const RequestHead& request,
                              const ForwardContext& ctx) {
  const Headers& headers = request.headers;
  const ConnectionTokens listed(headers);
  HeadWriter w(out);
  w.append(request.method);
  w.push_back(' ');
  // Origin-form, even for an absolute-form target (RFC 9112 3.2.2); see RequestHead::path.
  w.append(request.path);
  w.append(" HTTP/1.1\r\n");

  // One pass classifies every field. Host is written first, from the request's authority (the
  // absolute-form target's, which replaces Host, or Host's own), and is never subject to
  // Connection: a client listing "Host" there must not be able to strip it.
  const Header* upgrade = nullptr;
  const Header* xff_first = nullptr;  // most requests carry none, or a single one
  bool xff_more = false;
  for (const Header& h : headers) {
    switch (kindOf(h)) {
      case KnownHeader::Upgrade:
        if (upgrade == nullptr) upgrade = &h;
        break;
      case KnownHeader::XForwardedFor:
        if (h.value.empty()) break;
        if (xff_first == nullptr) {
          xff_first = &h;
        } else {
          xff_more = true;
        }
        break;
      default:
        break;
    }
  }
  // An HTTP/1.0 request may come without Host; the upstream's HTTP/1.1 request needs one.
  const std::string_view host_value =
      !request.authority.empty() ? request.authority : ctx.default_host;
  if (!host_value.empty()) w.header("Host", host_value);

  for (const Header& h : headers) {
    const KnownHeader kind = kindOf(h);
    if (isHopByHop(h, listed) || regeneratedInRequest(kind)) continue;
    w.header(h.name, h.value);
  }

  if (request.upgrade) {
    if (upgrade != nullptr) {
      w.header("Upgrade", upgrade->value);
      w.header("Connection", "upgrade");
    }
  }

  // Every X-Forwarded-For line of the client, in order, then the client's own address.
  w.append("X-Forwarded-For: ");
  if (xff_first != nullptr) {
    w.append(xff_first->value);
    if (xff_more) {
      for (const Header& h : headers) {
        if (&h == xff_first || h.value.empty() || kindOf(h) != KnownHeader::XForwardedFor) {
          continue;
        }
        w.append(", ");
        w.append(h.value);
      }
    }
    w.append(", ");
  }
  w.append(ctx.client_ip);
  w.append("\r\n");
  w.header("X-Forwarded-Proto", "http");
  if (!request.authority.empty()) w.header("X-Forwarded-Host", request.authority);
  if (!ctx.request_id.empty()) w.header("X-Request-Id", ctx.request_id);
  if (!ctx.traceparent.empty()) w.header("traceparent", ctx.traceparent);

  w.framing(request.framing, request.content_length);
  // UntilClose is not a request framing and is treated as no body. Some servers answer a
  // bodiless POST without a length with 411.
  const bool bodiless =
      request.framing == BodyFraming::None || request.framing == BodyFraming::UntilClose;
  if (bodiless && !request.upgrade && methodExpectsBody(request.method)) {
    w.header("Content-Length", "0");
  }
  w.append("\r\n");
  w.finish();
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

bool bodyFollows(const ResponseHead& response, const ResponsePlan& plan) {
  switch (plan.framing) {
    case BodyFraming::None:
      return false;
    case BodyFraming::ContentLength:
      return response.content_length > 0;
    case BodyFraming::Chunked:  // at least the last chunk
    case BodyFraming::UntilClose:
      return true;
  }
  return false;
}

void buildClientResponseHead(std::string& out, const ResponseHead& response,
                             const ResponsePlan& plan, std::string_view request_id) {
  const Headers& headers = response.headers;
  const ConnectionTokens listed(headers);
  HeadWriter w(out);
  w.append("HTTP/1.1 ");
  w.decimal(static_cast<uint64_t>(response.status));
  w.push_back(' ');
  w.append(response.reason.empty() ? reasonPhrase(response.status)
                                   : std::string_view(response.reason));
  w.append("\r\n");

  const bool switching = response.status == 101;
  bool has_request_id = false;
  const Header* upgrade = nullptr;
  // A parsed head passes its kept fields on as the lines it received, a run of them per copy;
  // any other head is written field by field.
  const bool raw = !response.raw_fields.empty();
  const char* run = nullptr;  // first line of the run of kept fields not yet written
  for (const Header& h : headers) {
    const KnownHeader kind = kindOf(h);
    if (kind == KnownHeader::Upgrade && upgrade == nullptr) upgrade = &h;
    // Content-Length is ours to state when we frame the body; without a body (HEAD, 304) the
    // upstream's value describes the representation and passes unchanged.
    const bool drop = isHopByHop(h, listed) ||
                      (plan.framing != BodyFraming::None && kind == KnownHeader::ContentLength);
    if (!drop && kind == KnownHeader::XRequestId) has_request_id = true;
    if (!raw) {
      if (!drop) w.header(h.name, h.value);
    } else if (!drop) {
      if (run == nullptr) run = h.name.data();
    } else if (run != nullptr) {
      w.append(std::string_view(run, static_cast<size_t>(h.name.data() - run)));
      run = nullptr;
    }
  }
  if (run != nullptr) {
    const char* const fields_end = response.raw_fields.data() + response.raw_fields.size();
    w.append(std::string_view(run, static_cast<size_t>(fields_end - run)));
  }

  if (switching) {
    if (upgrade != nullptr) w.header("Upgrade", upgrade->value);
    w.header("Connection", "upgrade");
  }

  w.framing(plan.framing, response.content_length);

  if (!response.isInterim() && !switching) {
    if (plan.close_after) {
      w.header("Connection", "close");
    } else if (plan.announce_keep_alive) {
      w.header("Connection", "keep-alive");
    }
  }
  if (!response.isInterim() && !request_id.empty() && !has_request_id) {
    w.header("X-Request-Id", request_id);
  }
  // A further field line of a list field: the upstream's members first, ours last, closest to
  // the client (RFC 9209 2; RFC 9110 5.3 combines the lines into one list).
  if (!plan.proxy_status.empty()) w.header("Proxy-Status", plan.proxy_status);
  w.append("\r\n");
  w.finish();
}

std::string buildLocalReply(int status, std::string_view cause, std::string_view request_id,
                            std::string_view body, bool close, bool announce_keep_alive,
                            std::string_view extra_header_lines) {
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
  if (close) {
    appendHeader(out, "Connection", "close");
  } else if (announce_keep_alive) {
    appendHeader(out, "Connection", "keep-alive");
  }
  out.append(extra_header_lines);
  out.append("\r\n");
  out.append(body);
  return out;
}

void buildInterimResponseHead(std::string& out, const ResponseHead& response) {
  out.clear();
  out.append("HTTP/1.1 ");
  out.append(std::to_string(response.status));
  out.push_back(' ');
  out.append(response.reason.empty() ? reasonPhrase(response.status) : response.reason);
  out.append("\r\n");
  const ConnectionTokens listed(response.headers);
  for (const Header& h : response.headers) {
    if (isHopByHop(h, listed)) continue;
    appendHeader(out, h.name, h.value);
  }
  out.append("\r\n");
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
  const ConnectionTokens listed(trailers);
  for (const Header& h : trailers) {
    if (isHopByHop(h, listed) || forbiddenInTrailers(kindOf(h))) continue;
    appendHeader(out, h.name, h.value);
  }
  out.append("\r\n");
  return out;
}

}  // namespace triaged::http
