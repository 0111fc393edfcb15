#pragma once

// Plain structs for HTTP/1.x message heads, filled by MessageParser. No libevent, no llhttp.
//
// Heads are views: names, values, the target and the reason point into the arena of the
// MessageParser that produced them (or, in tests, into literals), and stay valid until that
// parser's next resume(). Whoever keeps a piece longer copies it (the classifier keeps the few
// headers that name a gateway hop). Parsing a head therefore allocates nothing once a
// connection's arena has grown to its usual head size.

#include <array>
#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

namespace triaged::http {

enum class KnownHeader : uint8_t;

struct Header {
  std::string_view name;
  std::string_view value;
  // knownHeader(name), worked out once: by the parser, or by kindOf() on first use for a header
  // made by hand. Mutable: a cache, not part of the value.
  mutable uint8_t kind = kUnclassified;
  static constexpr uint8_t kUnclassified = 0xff;
};
using Headers = std::vector<Header>;

// How a message body is delimited on the wire.
enum class BodyFraming : uint8_t {
  None,           // no body (GET without length, HEAD response, 1xx/204/304)
  ContentLength,  // exactly content_length bytes
  Chunked,        // Transfer-Encoding: chunked
  UntilClose,     // responses only: body ends when the connection closes
};

namespace detail {
// ASCII only: header names and the tokens we compare are ASCII by grammar, and locale-aware
// tolower() would make the comparison depend on the process locale.
constexpr std::array<unsigned char, 256> kLowerAscii = [] {
  std::array<unsigned char, 256> t{};
  for (size_t i = 0; i < t.size(); ++i) {
    t[i] = static_cast<unsigned char>(i >= 'A' && i <= 'Z' ? i - 'A' + 'a' : i);
  }
  return t;
}();
}  // namespace detail

// Inline: it runs for every header of every message, mostly to reject on length at once.
inline bool equalsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (detail::kLowerAscii[static_cast<unsigned char>(a[i])] !=
        detail::kLowerAscii[static_cast<unsigned char>(b[i])]) {
      return false;
    }
  }
  return true;
}

// The header names triaged acts on. knownHeader() tells them by length first, then by one or two
// case-insensitive compares, so the parser and the head builders classify each field once instead
// of comparing it against every name they care about.
enum class KnownHeader : uint8_t {
  Other = 0,
  Host,
  ContentLength,
  TransferEncoding,
  Connection,
  KeepAlive,
  ProxyConnection,
  Te,
  Upgrade,
  Expect,
  Trailer,
  ContentEncoding,
  XForwardedFor,
  XForwardedProto,
  XForwardedHost,
  XRequestId,
};
KnownHeader knownHeader(std::string_view name);
inline KnownHeader kindOf(const Header& h) {
  if (h.kind == Header::kUnclassified) h.kind = static_cast<uint8_t>(knownHeader(h.name));
  return static_cast<KnownHeader>(h.kind);
}
// Connection, Keep-Alive, Proxy-Connection, TE, Transfer-Encoding, Upgrade (RFC 9110 7.6.1).
bool isHopByHopName(KnownHeader kind);

// First header named `name` (case-insensitive), or nullptr.
const Header* findHeader(const Headers& headers, std::string_view name);
// True when a comma-separated header (e.g. Connection) of that name holds `token`.
bool headerHasToken(const Headers& headers, std::string_view name, std::string_view token);

// What a Keep-Alive response field (RFC 2068 19.7.1.1, still sent by Apache, Node.js, Jetty...)
// says about the connection: the idle timeout after which the server closes it, and how many
// more requests it will serve on it. Unset parts were absent or not numbers.
struct KeepAliveParams {
  std::optional<uint32_t> timeout_seconds;
  std::optional<uint32_t> max_requests;
};
KeepAliveParams parseKeepAlive(const Headers& headers);

// The tokens of every Connection header of a message, collected once so that the hop-by-hop
// test of each field is not a scan of all fields (RFC 9110 7.6.1: each listed name is
// hop-by-hop). More than kMax distinct tokens is an abuse; the rest are still honoured through
// the slow path.
class ConnectionTokens {
 public:
  static constexpr size_t kMax = 8;
  explicit ConnectionTokens(const Headers& headers);
  // Whether `name` is listed. Tokens that name a field hop-by-hop by itself (isHopByHopName:
  // "keep-alive", "upgrade", ...) are not kept, so ask only about names that are not.
  bool contains(std::string_view name) const;

 private:
  const Headers& headers_;
  std::array<std::string_view, kMax> tokens_{};
  size_t count_ = 0;
  bool overflow_ = false;
};

// A request-target taken apart (RFC 9112 3.2). Views into the target.
struct TargetParts {
  enum class Form : uint8_t { Origin, Absolute, Asterisk, Other };
  Form form = Form::Other;
  std::string_view scheme;     // absolute-form only, as sent ("HTTP")
  std::string_view userinfo;   // absolute-form only, without its "@"; empty when none
  bool has_userinfo = false;   // an "@" was present (an empty userinfo counts)
  std::string_view authority;  // absolute-form only: host [ ":" port ], userinfo excluded
  std::string_view path;       // absolute-path [ "?" query ]; empty when an absolute-form had none
};
// Splits `target` by its form. Origin-form: path is the target. Absolute-form: any scheme of
// RFC 3986 letters; the caller decides which schemes it accepts. "*" is asterisk-form. Anything
// else (authority-form included) is Other.
TargetParts splitRequestTarget(std::string_view target);

// RFC 9112 3.2: Host = uri-host [ ":" port ], uri-host = IP-literal / IPv4address / reg-name
// (RFC 3986 3.2.2), and not empty: every http(s) target URI has a host (RFC 9110 4.2.1). A port
// is at most 5 digits, and a reg-name has no comma (a list of hosts to some recipients). True for
// the same values in an absolute-form target's authority.
bool isValidHost(std::string_view value);

struct RequestHead {
  std::string_view method;  // "GET" (llhttp's static name)
  std::string_view target;  // request-target as sent: "/path?q"
  // Derived by the parser (RFC 9112 3.2.2): the target's authority for an absolute-form target,
  // the Host value otherwise (empty when none); and the origin-form target to forward ("/p?q";
  // "/" or "/?q" for an absolute-form target without a path; "*" for OPTIONS *; empty for
  // CONNECT, whose authority-form target has no path: RFC 9112 3.2.3).
  std::string_view authority;
  std::string_view path;
  uint8_t version_major = 1;
  uint8_t version_minor = 1;
  Headers headers;
  BodyFraming framing = BodyFraming::None;
  uint64_t content_length = 0;   // when framing == ContentLength
  bool keep_alive = true;        // the client allows another request on this connection
  bool upgrade = false;          // Connection: upgrade + Upgrade: ... (WebSocket), or CONNECT
  bool expect_continue = false;  // Expect: 100-continue

  bool isHead() const { return method == "HEAD"; }
  // Back to a default-constructed head, keeping the headers' capacity.
  void reset();
};

struct ResponseHead {
  int status = 0;
  std::string_view reason;  // reason phrase as sent (may be empty)
  uint8_t version_major = 1;
  uint8_t version_minor = 1;
  Headers headers;
  // The field lines as received, each with its CRLF, when the head was parsed from bytes: every
  // header's name starts a line of it, in the order of `headers`, so a run of fields passed on
  // unchanged is one copy (buildClientResponseHead). Empty for a head built any other way.
  std::string_view raw_fields;
  BodyFraming framing = BodyFraming::None;
  uint64_t content_length = 0;
  bool keep_alive = true;  // the upstream allows another request on this connection
  bool upgrade = false;    // 101 Switching Protocols accepted

  bool isInterim() const { return status >= 100 && status < 200 && status != 101; }
  void reset();
};

}  // namespace triaged::http
