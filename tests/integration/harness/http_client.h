#pragma once

// A blocking HTTP/1.1 test client over one TCP connection to 127.0.0.1 (or ::1). Every read and
// write goes through poll() with a deadline, so a silent peer fails the test instead of hanging
// it. The parser is deliberately forgiving enough to *observe* broken responses (truncation,
// garbage, resets) and report them in Response's flags rather than throwing.

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace triaged::test {

using namespace std::chrono_literals;

using Headers = std::vector<std::pair<std::string, std::string>>;

// Case-insensitive lookup of the first header called `name`.
std::optional<std::string> findHeader(const Headers& headers, std::string_view name);
bool equalsIgnoreCase(std::string_view a, std::string_view b);

struct Response {
  int status = 0;  // 0: no (valid) status line arrived
  std::string reason;
  std::string version;  // "HTTP/1.1"
  Headers headers;
  std::string body;         // empty for readResponseDiscardingBody()
  uint64_t body_bytes = 0;  // body bytes received (both read modes)
  bool complete = false;    // framing satisfied: CL reached, last chunk, or clean EOF
  bool chunked = false;
  Headers trailers;
  bool peer_closed = false;  // the connection ended (FIN or RST) while reading
  bool peer_reset = false;   // ...and it was an RST (ECONNRESET)
  bool timed_out = false;    // the deadline passed first
  bool malformed = false;    // not parseable as an HTTP/1.x response
  std::string raw_head;      // the head bytes as received (possibly partial)

  std::optional<std::string> header(std::string_view name) const;
  bool hasHeader(std::string_view name) const { return header(name).has_value(); }
};

struct ReadOptions {
  bool head_request = false;    // the response to a HEAD has no body whatever it announces
  bool return_interim = false;  // return a 1xx instead of skipping it (101 is always returned)
  std::chrono::milliseconds timeout = 5s;  // for the whole call
};

class HttpClient {
 public:
  using Options = ReadOptions;

  // Connects to host:port (host is an IP literal). Throws std::runtime_error on failure.
  explicit HttpClient(uint16_t port, std::string host = "127.0.0.1",
                      std::chrono::milliseconds connect_timeout = 5s);
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  // Writes all of `raw`. False when the peer went away or the timeout passed.
  bool send(std::string_view raw, std::chrono::milliseconds timeout = 5s);
  // Writes `bytes` of the shared pattern (see patternBody) in 64 KiB pieces, chunk-framed
  // (ending with the last chunk) when `chunked`.
  bool sendStreamingBody(uint64_t bytes, bool chunked, std::chrono::milliseconds timeout = 120s);

  Response readResponse(const Options& options = {});
  // As readResponse, but body bytes are counted (body_bytes) and dropped: for huge bodies.
  Response readResponseDiscardingBody(const Options& options = {});
  // Exactly `n` raw bytes (e.g. after a 101), or nullopt on close/timeout.
  std::optional<std::string> readBytes(size_t n, std::chrono::milliseconds timeout = 5s);
  // True once the peer closed or reset the connection; input is discarded while waiting.
  bool waitForClose(std::chrono::milliseconds timeout);

  // "GET path HTTP/1.1" with Host and `extra_headers`, on this (keep-alive) connection.
  Response get(std::string_view path, const Headers& extra_headers = {},
               const Options& options = {});
  // Any method. Adds Host, and Content-Length for a body unless the headers frame it already.
  Response request(std::string_view method, std::string_view target, const Headers& headers = {},
                   std::string_view body = {}, Options options = {});
  // Sends `raw` as is, then reads one response.
  Response rawRequest(std::string_view raw, const Options& options = {});

  void shutdownWrite();
  // Abortive close (RST), like a client that crashed.
  void resetConnection();
  void close();

  bool peerClosed() const { return eof_; }
  bool peerReset() const { return reset_; }  // the close seen was an RST
  uint16_t port() const { return port_; }
  std::string hostHeader() const;  // "127.0.0.1:PORT"
  int fd() const { return fd_; }

 private:
  enum class Fill { Data, Eof, Timeout };
  Fill fill(std::chrono::steady_clock::time_point deadline);
  Response read(const Options& options, bool keep_body);
  bool readHead(Response& r, std::chrono::steady_clock::time_point deadline);
  bool readLine(std::string& line, std::chrono::steady_clock::time_point deadline, Response& r);
  void readBody(Response& r, const Options& options, bool keep_body,
                std::chrono::steady_clock::time_point deadline);
  void take(size_t n, Response& r, bool keep_body);
  size_t buffered() const { return in_.size() - in_pos_; }
  void markEnd(Fill f, Response& r);

  int fd_ = -1;
  uint16_t port_;
  std::string host_;
  std::string in_;
  size_t in_pos_ = 0;
  bool eof_ = false;
  bool reset_ = false;
};

// The pattern both the fake upstream and sendStreamingBody generate: byte i is
// "ABC...XYZabc...xyz0123456789+/"[i % 64].
std::string patternBody(uint64_t n);
uint64_t fnv1a64(std::string_view data);
std::string fnv1aHex(std::string_view data);  // 16 lowercase hex digits, as /echo reports
std::string patternFnv1aHex(uint64_t n);      // fnv1aHex(patternBody(n)) without the string

// "" when equal; otherwise a short description (sizes, first differing offset) that keeps
// failure output readable for large bodies: CHECK(describeDifference(r.body, want) == "").
std::string describeDifference(std::string_view actual, std::string_view expected);

}  // namespace triaged::test
