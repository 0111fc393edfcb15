#pragma once

// Runs corpus vectors (vector.h) through a proxy in front of triaged_recording_upstream and
// reports what happened, on both sides: the responses the client got, whether a follow-up
// request on the same connection got its own response, and every byte the upstream received.
// checkVerdict() holds an outcome to the vector's "expect:" line; describe() sums an outcome up
// in a few words, for comparing proxies. Blocking sockets with poll() deadlines; loopback only.

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "vector.h"

namespace conformance {

struct Address {
  std::string host = "127.0.0.1";
  uint16_t port = 0;
};

struct ClientResponse {
  int status = 0;
  std::string raw;   // the response's bytes as received (head and body)
  std::string head;  // up to and including the blank line
  std::string body;  // de-chunked
  bool complete = false;
  // The first header of that name (case-insensitive), or "".
  std::string header(std::string_view name) const;
};

struct Record {
  std::string kind;  // accept, request, reject, partial, close
  int conn = 0;
  std::string bytes;   // request, reject, partial
  std::string reason;  // reject
};

struct Outcome {
  std::vector<ClientResponse> responses;  // to the vector's bytes (interim ones included)
  std::optional<ClientResponse> follow_up;
  // How the client's side ended: "follow-up answered", "closed", "reset", "timeout",
  // "desync" (a response to something else came where the follow-up's belonged).
  std::string end;
  std::vector<Record> upstream;
  std::string error;  // the run itself failed (cannot connect, control port gone)

  // What reached the upstream from the vector: its request records, the follow-up's excluded.
  std::string forwarded() const;
  // Upstream connections that carried a request from the vector, and the follow-up's one.
  std::vector<int> vectorConnections() const;
  int followUpConnection() const;
  bool upstreamSawAmbiguity() const;  // a reject or partial record
};

struct RunOptions {
  std::chrono::milliseconds timeout{3000};  // per response
  bool send_follow_up = true;
};

// A request vector: sends its "request" section, reads the responses, sends a follow-up GET.
Outcome runRequestVector(const Address& proxy, const Address& control, const Vector& v,
                         const RunOptions& options = {});
// A response vector: the upstream is told to answer the vector's request (its "request"
// section, or a plain GET) with its "response" section; then a follow-up as above.
Outcome runResponseVector(const Address& proxy, const Address& control, const Vector& v,
                          const RunOptions& options = {});

// Replaces every generated X-Request-Id value (32 hex digits) by "{id}", and a Host naming a
// loopback endpoint (what a request without one is given) by "{endpoint}".
std::string normalize(std::string bytes);
// Problems with `o` given the vector's verdict and triaged's invariants; empty when it passes.
std::vector<std::string> checkVerdict(const Vector& v, const Outcome& o, bool response_vector);
// A few words: "400", "200 forwarded", "502 closed", "no answer", with "DESYNC" or
// "AMBIGUOUS UPSTREAM" appended when the run showed one.
std::string describe(const Outcome& o);

}  // namespace conformance
