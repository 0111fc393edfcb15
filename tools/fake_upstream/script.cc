#include "script.h"

#include <charconv>

namespace fake_upstream {
namespace {

int hexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::optional<uint64_t> parseUint(std::string_view s) {
  uint64_t v = 0;
  if (s.empty()) return std::nullopt;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size()) return std::nullopt;
  return v;
}

std::optional<std::pair<std::string, std::string>> splitHeader(const std::string& v) {
  auto colon = v.find(':');
  if (colon == std::string::npos || colon == 0) return std::nullopt;
  std::string name = v.substr(0, colon);
  size_t start = colon + 1;
  while (start < v.size() && (v[start] == ' ' || v[start] == '\t')) ++start;
  return std::make_pair(std::move(name), v.substr(start));
}

struct ActionName {
  std::string_view name;
  Action action;
};

constexpr ActionName kActions[] = {
    {"close_before_headers", Action::CloseBeforeHeaders},
    {"reset_before_headers", Action::ResetBeforeHeaders},
    {"partial_headers", Action::PartialHeaders},
    {"close_mid_body", Action::CloseMidBody},
    {"reset_mid_body", Action::ResetMidBody},
    {"stall_body", Action::StallBody},
    {"hang", Action::Hang},
    {"garbage", Action::Garbage},
    {"bad_content_length", Action::BadContentLength},
    {"huge_headers", Action::HugeHeaders},
    {"close_after_response", Action::CloseAfterResponse},
    {"reset_after_response", Action::ResetAfterResponse},
    {"close_on_next_request", Action::CloseOnNextRequest},
    {"reset_on_next_request", Action::ResetOnNextRequest},
};

}  // namespace

std::string urlDecode(std::string_view in) {
  std::string out;
  out.reserve(in.size());
  for (size_t i = 0; i < in.size(); ++i) {
    char c = in[i];
    if (c == '+') {
      out.push_back(' ');
    } else if (c == '%' && i + 2 < in.size() && hexValue(in[i + 1]) >= 0 &&
               hexValue(in[i + 2]) >= 0) {
      out.push_back(static_cast<char>(hexValue(in[i + 1]) * 16 + hexValue(in[i + 2])));
      i += 2;
    } else {
      out.push_back(c);
    }
  }
  return out;
}

Script parseScript(std::string_view query) {
  Script s;
  auto fail = [&s](std::string_view key, std::string_view why) {
    if (s.error.empty()) s.error = std::string(key) + ": " + std::string(why);
  };
  while (!query.empty()) {
    auto amp = query.find('&');
    std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    if (pair.empty()) continue;
    auto eq = pair.find('=');
    std::string key = urlDecode(pair.substr(0, eq));
    std::string value =
        eq == std::string_view::npos ? std::string() : urlDecode(pair.substr(eq + 1));

    auto number = [&](uint64_t& out) {
      auto v = parseUint(value);
      if (!v) return fail(key, "not an unsigned integer");
      out = *v;
    };
    auto optNumber = [&](std::optional<uint64_t>& out) {
      auto v = parseUint(value);
      if (!v) return fail(key, "not an unsigned integer");
      out = *v;
    };
    auto flag = [&](bool& out) { out = value != "0" && value != "false"; };

    if (key == "status") {
      auto v = parseUint(value);
      if (!v || *v < 100 || *v > 999) {
        fail(key, "must be 100..999");
      } else {
        s.status = static_cast<int>(*v);
      }
    } else if (key == "reason") {
      s.reason = value;
    } else if (key == "size") {
      optNumber(s.size);
    } else if (key == "body") {
      s.body = value;
    } else if (key == "chunked") {
      flag(s.chunked);
    } else if (key == "close_delimited") {
      flag(s.close_delimited);
    } else if (key == "close") {
      flag(s.close);
    } else if (key == "no_continue") {
      flag(s.no_continue);
    } else if (key == "early_response") {
      flag(s.early_response);
    } else if (key == "abort_unread") {
      flag(s.abort_unread);
    } else if (key == "interim") {
      auto v = parseUint(value);
      if (!v || *v < 100 || *v > 199 || *v == 101) {
        fail(key, "must be 100..199 but not 101");
      } else {
        s.interim = static_cast<int>(*v);
      }
    } else if (key == "interim_header") {
      auto h = splitHeader(value);
      if (!h) {
        fail(key, "expected Name:Value");
      } else {
        s.interim_headers.push_back(std::move(*h));
      }
    } else if (key == "header" || key == "trailer") {
      auto h = splitHeader(value);
      if (!h) {
        fail(key, "expected Name:Value");
      } else {
        (key == "header" ? s.headers : s.trailers).push_back(std::move(*h));
      }
    } else if (key == "delay_headers") {
      number(s.delay_headers_ms);
    } else if (key == "delay_body") {
      number(s.delay_body_ms);
    } else if (key == "chunk_delay") {
      number(s.chunk_delay_ms);
    } else if (key == "after") {
      optNumber(s.after);
    } else if (key == "wait_connections") {
      optNumber(s.wait_connections);
    } else if (key == "wait_requests") {
      optNumber(s.wait_requests);
    } else if (key == "wait_open") {
      optNumber(s.wait_open);
    } else if (key == "timeout_ms") {
      number(s.timeout_ms);
    } else if (key == "action") {
      bool found = false;
      for (const auto& a : kActions) {
        if (a.name == value) {
          s.action = a.action;
          found = true;
        }
      }
      if (!found) fail(key, "unknown action '" + value + "'");
    }
  }
  return s;
}

std::string_view reasonPhrase(int status) {
  switch (status) {
    case 100:
      return "Continue";
    case 101:
      return "Switching Protocols";
    case 103:
      return "Early Hints";
    case 200:
      return "OK";
    case 201:
      return "Created";
    case 202:
      return "Accepted";
    case 204:
      return "No Content";
    case 206:
      return "Partial Content";
    case 301:
      return "Moved Permanently";
    case 302:
      return "Found";
    case 304:
      return "Not Modified";
    case 400:
      return "Bad Request";
    case 401:
      return "Unauthorized";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 408:
      return "Request Timeout";
    case 413:
      return "Content Too Large";
    case 417:
      return "Expectation Failed";
    case 429:
      return "Too Many Requests";
    case 431:
      return "Request Header Fields Too Large";
    case 500:
      return "Internal Server Error";
    case 501:
      return "Not Implemented";
    case 502:
      return "Bad Gateway";
    case 503:
      return "Service Unavailable";
    case 504:
      return "Gateway Timeout";
    case 505:
      return "HTTP Version Not Supported";
    default:
      return "Unknown";
  }
}

void Fnv1a::update(const unsigned char* data, size_t len) {
  // Local copy so the loop keeps the hash in a register even in unoptimised builds.
  uint64_t h = hash_;
  for (size_t i = 0; i < len; ++i) {
    h ^= data[i];
    h *= 1099511628211ULL;
  }
  hash_ = h;
}

}  // namespace fake_upstream
