#pragma once

// The fake upstream's own HTTP/1.1 request-head parser. Deliberately independent of triaged's
// llhttp wrapper, so a parsing bug in triaged cannot hide behind the same bug in its test origin.
// Strict: anything a careful origin would refuse is an error (the caller answers 400 and closes).

#include <cstdint>
#include <string>
#include <string_view>

#include "script.h"

namespace fake_upstream {

enum class BodyFraming { None, Length, Chunked };

struct RequestHead {
  std::string method;
  std::string target;
  std::string version;  // "HTTP/1.1"
  HeaderList headers;   // in order, original case
  BodyFraming framing = BodyFraming::None;
  uint64_t content_length = 0;
  bool keep_alive = true;
  bool expect_continue = false;
  bool websocket_upgrade = false;

  std::string_view path() const;
  std::string_view query() const;
  // First header with this name (case-insensitive), or nullptr.
  const std::string* header(std::string_view name) const;
};

struct HeadParse {
  bool ok = false;
  RequestHead head;
  std::string error;  // why the head was refused
};

// `head` is everything before the blank line that ends the head (no trailing CRLFCRLF).
HeadParse parseRequestHead(std::string_view head);

bool equalsIgnoreCase(std::string_view a, std::string_view b);
// True if the comma-separated list `value` contains `token` (case-insensitive).
bool listContains(std::string_view value, std::string_view token);

}  // namespace fake_upstream
