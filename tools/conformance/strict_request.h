#pragma once

// The recording upstream's request parser: RFC 9112 read as strictly as it can be, written
// without looking at triaged's parser or llhttp, so that what triaged lets through is judged by
// a second reading. Anything a careful origin could read two ways is an error: bare CR or LF,
// obs-fold, a field name that is not a token or is followed by whitespace, CTLs in values,
// zero or several Host lines or a Host that is not host[:port], a target that is not
// origin-form (or "*" for OPTIONS), any Content-Length but one plain number, any
// Transfer-Encoding but exactly "chunked", both together, a chunk size that is not 1-16 hex
// digits, a chunk extension outside its grammar, and a malformed trailer section.

#include <cstddef>
#include <string>
#include <string_view>

namespace conformance {

struct StrictParse {
  enum class Status { NeedMore, Complete, Error };
  Status status = Status::NeedMore;
  size_t length = 0;   // Complete: the request's bytes on the wire, head and body
  std::string target;  // Complete: the request-target
  std::string method;  // Complete
  std::string error;   // Error: why
};

// Reads one request from the start of `in` (the bytes of one connection not yet consumed).
StrictParse parseStrictRequest(std::string_view in);

}  // namespace conformance
