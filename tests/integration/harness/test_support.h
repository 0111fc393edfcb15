#pragma once

// Small helpers that most integration tests share.

#include <chrono>
#include <string_view>

#include "harness/http_client.h"

namespace triaged::test {

inline bool contains(std::string_view haystack, std::string_view needle) {
  return haystack.find(needle) != std::string_view::npos;
}

inline HttpClient::Options withTimeout(std::chrono::milliseconds t) {
  HttpClient::Options o;
  o.timeout = t;
  return o;
}

}  // namespace triaged::test
