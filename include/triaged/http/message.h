#pragma once

// Plain structs for HTTP/1.x message heads, filled by MessageParser. No libevent, no llhttp.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace triaged::http {

struct Header {
  std::string name;
  std::string value;
};
using Headers = std::vector<Header>;

// How a message body is delimited on the wire.
enum class BodyFraming : uint8_t {
  None,           // no body (GET without length, HEAD response, 1xx/204/304)
  ContentLength,  // exactly content_length bytes
  Chunked,        // Transfer-Encoding: chunked
  UntilClose,     // responses only: body ends when the connection closes
};

bool equalsIgnoreCase(std::string_view a, std::string_view b);
// First header named `name` (case-insensitive), or nullptr.
const Header* findHeader(const Headers& headers, std::string_view name);
// True when a comma-separated header (e.g. Connection) of that name holds `token`.
bool headerHasToken(const Headers& headers, std::string_view name, std::string_view token);

struct RequestHead {
  std::string method;  // "GET"
  std::string target;  // request-target as sent: "/path?q"
  uint8_t version_major = 1;
  uint8_t version_minor = 1;
  Headers headers;
  BodyFraming framing = BodyFraming::None;
  uint64_t content_length = 0;   // when framing == ContentLength
  bool keep_alive = true;        // the client allows another request on this connection
  bool upgrade = false;          // Connection: upgrade + Upgrade: ... (WebSocket), or CONNECT
  bool expect_continue = false;  // Expect: 100-continue

  bool isHead() const { return method == "HEAD"; }
};

struct ResponseHead {
  int status = 0;
  std::string reason;  // reason phrase as sent (may be empty)
  uint8_t version_major = 1;
  uint8_t version_minor = 1;
  Headers headers;
  BodyFraming framing = BodyFraming::None;
  uint64_t content_length = 0;
  bool keep_alive = true;  // the upstream allows another request on this connection
  bool upgrade = false;    // 101 Switching Protocols accepted

  bool isInterim() const { return status >= 100 && status < 200 && status != 101; }
};

}  // namespace triaged::http
