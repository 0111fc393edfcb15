#pragma once

// What one request asks the fake upstream to do, decoded from its query string. Pure logic: no
// libevent, no sockets. Unknown parameters are ignored (tests may add cache busters); a known
// parameter with a bad value makes the request a 400 so typos in a test fail loudly.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace fake_upstream {

using HeaderList = std::vector<std::pair<std::string, std::string>>;

enum class Action {
  None,
  CloseBeforeHeaders,  // read the request, then FIN with no byte sent
  ResetBeforeHeaders,  // read the request, then RST
  PartialHeaders,      // "HTTP/1.1 200 OK\r\nContent-Le" then FIN
  CloseMidBody,        // head announcing `size`, `after` body bytes, FIN
  ResetMidBody,        // head announcing `size`, `after` body bytes, RST
  StallBody,           // head announcing `size`, `after` body bytes, then silence
  Hang,                // read the request, never answer
  Garbage,             // "NOT-HTTP garbage\r\n\r\n" then FIN
  BadContentLength,    // "Content-Length: abc"
  HugeHeaders,         // a head carrying `after` bytes of header lines
  CloseAfterResponse,  // a normal keep-alive response, then FIN
  ResetAfterResponse,  // a normal keep-alive response, then RST
  // A normal keep-alive response; the next request on the connection then gets no byte, only
  // a FIN (or an RST): the stale keep-alive race, made deterministic.
  CloseOnNextRequest,
  ResetOnNextRequest,
};

struct Script {
  int status = 200;
  std::string reason;               // empty: the standard phrase
  std::optional<uint64_t> size;     // generated pattern body of this many bytes
  std::optional<std::string> body;  // exact body text
  bool chunked = false;
  bool close_delimited = false;
  bool close = false;
  bool no_continue = false;     // ignore "Expect: 100-continue"
  bool early_response = false;  // answer right after the head, close without reading the body
  // With early_response: close at once with the body unread, so the kernel sends RST (as most
  // servers do), instead of the lingering close that lets the peer read the answer.
  bool abort_unread = false;
  int interim = 0;             // an interim (1xx) head sent before the final response
  HeaderList interim_headers;  // its header fields (e.g. Link for 103 Early Hints)
  HeaderList headers;
  HeaderList trailers;
  uint64_t delay_headers_ms = 0;
  uint64_t delay_body_ms = 0;
  uint64_t chunk_delay_ms = 0;
  Action action = Action::None;
  std::optional<uint64_t> after;

  // /__stats long-poll: answer once every given counter equals its value, or at the timeout.
  std::optional<uint64_t> wait_connections;
  std::optional<uint64_t> wait_requests;
  std::optional<uint64_t> wait_open;
  uint64_t timeout_ms = 5000;

  std::string error;  // non-empty: the query is invalid and the request gets a 400
};

// Decodes %XX escapes and '+' (as a space). Invalid escapes are kept literally.
std::string urlDecode(std::string_view in);

// Parses the query part of a request target (without the '?').
Script parseScript(std::string_view query);

// Standard reason phrase, "Unknown" otherwise.
std::string_view reasonPhrase(int status);

// FNV-1a 64, the checksum /echo reports for request bodies.
class Fnv1a {
 public:
  void update(const unsigned char* data, size_t len);
  uint64_t value() const { return hash_; }

 private:
  uint64_t hash_ = 14695981039346656037ULL;
};

// The generated body: byte i is kPattern[i % 64]. 64 divides every piece size, so each piece
// starts at offset 0 of the pattern.
inline constexpr std::string_view kPattern =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

}  // namespace fake_upstream
