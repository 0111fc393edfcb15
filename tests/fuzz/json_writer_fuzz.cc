// The writer of everything that leaves the process as text (core/text.h) and of the log lines
// (observe LogEvent): whatever bytes a peer sent, the output is well-formed UTF-8 (RFC 3629)
// and, where it is JSON, valid JSON (RFC 8259). Both are checked by a strict validator written
// here, independent of the writer. The input is split at 0xff into the values of one event;
// the byte before each value picks how it is added (string, integer, double from its bytes,
// bool, null).

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

#include "fuzz_support.h"
#include "triaged/config/config.h"
#include "triaged/core/text.h"
#include "triaged/observe/loggers.h"

namespace {

// RFC 3629: no overlong forms, no surrogates, nothing above U+10FFFF.
bool validUtf8(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    size_t n = 0;
    uint32_t cp = 0;
    if (c < 0x80) {
      ++i;
      continue;
    }
    if (c >= 0xc2 && c <= 0xdf) {
      n = 1;
      cp = c & 0x1f;
    } else if (c >= 0xe0 && c <= 0xef) {
      n = 2;
      cp = c & 0x0f;
    } else if (c >= 0xf0 && c <= 0xf4) {
      n = 3;
      cp = c & 0x07;
    } else {
      return false;
    }
    if (i + n >= s.size()) return false;  // the sequence is cut
    for (size_t k = 1; k <= n; ++k) {
      const auto cc = static_cast<unsigned char>(s[i + k]);
      if ((cc & 0xc0) != 0x80) return false;
      cp = (cp << 6) | (cc & 0x3f);
    }
    if ((n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) || cp > 0x10ffff ||
        (cp >= 0xd800 && cp <= 0xdfff)) {
      return false;
    }
    i += n + 1;
  }
  return true;
}

// A strict RFC 8259 recogniser: one value, optional whitespace around it, nothing else.
class Json {
 public:
  explicit Json(std::string_view s) : s_(s) {}
  bool document() {
    ws();
    if (!value(0)) return false;
    ws();
    return i_ == s_.size();
  }

 private:
  bool value(int depth) {
    if (depth > 64 || i_ >= s_.size()) return false;
    switch (s_[i_]) {
      case '{':
        return object(depth);
      case '[':
        return array(depth);
      case '"':
        return string();
      case 't':
        return literal("true");
      case 'f':
        return literal("false");
      case 'n':
        return literal("null");
      default:
        return number();
    }
  }
  bool object(int depth) {
    ++i_;
    ws();
    if (peek('}')) return ++i_, true;
    while (true) {
      ws();
      if (!string()) return false;
      ws();
      if (!peek(':')) return false;
      ++i_;
      ws();
      if (!value(depth + 1)) return false;
      ws();
      if (peek('}')) return ++i_, true;
      if (!peek(',')) return false;
      ++i_;
    }
  }
  bool array(int depth) {
    ++i_;
    ws();
    if (peek(']')) return ++i_, true;
    while (true) {
      ws();
      if (!value(depth + 1)) return false;
      ws();
      if (peek(']')) return ++i_, true;
      if (!peek(',')) return false;
      ++i_;
    }
  }
  bool string() {
    if (!peek('"')) return false;
    ++i_;
    while (i_ < s_.size()) {
      const auto c = static_cast<unsigned char>(s_[i_]);
      if (c == '"') return ++i_, true;
      if (c < 0x20) return false;
      if (c == '\\') {
        ++i_;
        if (i_ >= s_.size()) return false;
        const char e = s_[i_];
        if (e == 'u') {
          for (size_t k = 1; k <= 4; ++k) {
            if (i_ + k >= s_.size() || !std::isxdigit(static_cast<unsigned char>(s_[i_ + k]))) {
              return false;
            }
          }
          i_ += 4;
        } else if (std::strchr("\"\\/bfnrt", e) == nullptr || e == '\0') {
          return false;
        }
      }
      ++i_;
    }
    return false;
  }
  bool number() {
    const size_t start = i_;
    if (peek('-')) ++i_;
    if (peek('0')) {
      ++i_;
    } else if (!digits()) {
      return false;
    }
    if (peek('.')) {
      ++i_;
      if (!digits()) return false;
    }
    if (peek('e') || peek('E')) {
      ++i_;
      if (peek('+') || peek('-')) ++i_;
      if (!digits()) return false;
    }
    return i_ > start;
  }
  bool digits() {
    const size_t start = i_;
    while (i_ < s_.size() && s_[i_] >= '0' && s_[i_] <= '9') ++i_;
    return i_ > start;
  }
  bool literal(std::string_view word) {
    if (s_.substr(i_, word.size()) != word) return false;
    i_ += word.size();
    return true;
  }
  bool peek(char c) const { return i_ < s_.size() && s_[i_] == c; }
  void ws() {
    while (i_ < s_.size() && std::strchr(" \t\r\n", s_[i_]) != nullptr && s_[i_] != '\0') ++i_;
  }

  std::string_view s_;
  size_t i_ = 0;
};

constexpr std::string_view kKeys[] = {"cause",      "endpoint", "hop",   "detail",
                                      "connect_ms", "retried",  "errno", "path"};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  triaged::fuzz::Input in(data, size);
  // The plain writers, over the whole input.
  const std::string_view all(reinterpret_cast<const char*>(data), size);  // NOLINT: bytes
  const std::string quoted = triaged::jsonQuoted(all);
  FUZZ_CHECK(validUtf8(quoted), "jsonQuoted wrote invalid UTF-8");
  FUZZ_CHECK(Json(quoted).document(), "jsonQuoted wrote invalid JSON");
  for (const size_t max : {size_t{0}, size_t{7}, size_t{256}}) {
    const std::string shown = triaged::printable(all, max);
    FUZZ_CHECK(validUtf8(shown), "printable wrote invalid UTF-8");
    FUZZ_CHECK(shown.size() <= max + 3, "printable went over its bound");
    for (const char c : shown) {
      FUZZ_CHECK(static_cast<unsigned char>(c) >= 0x20 && c != 0x7f, "a control in printable");
    }
  }

  // One log event per input, in JSON.
  static const bool init = [] {
    triaged::config::LogConfig config;
    config.format = "json";
    triaged::observe::initLogging(config);
    return true;
  }();
  (void)init;
  triaged::observe::LogEvent event(in.until('\xff'));
  size_t k = 0;
  while (!in.rest().empty()) {
    const uint8_t how = in.byte();
    const std::string_view value = in.until('\xff');
    const std::string_view key = kKeys[k++ % std::size(kKeys)];
    switch (how % 5) {
      case 0:
        event.add(key, value);
        break;
      case 1: {
        int64_t v = 0;
        std::memcpy(&v, value.data(), std::min(value.size(), sizeof v));
        event.add(key, v);
        break;
      }
      case 2: {
        double v = 0;
        std::memcpy(&v, value.data(), std::min(value.size(), sizeof v));
        event.add(key, v);
        break;
      }
      case 3:
        event.add(key, !value.empty());
        break;
      default:
        event.addNull(key);
    }
  }
  const std::string line = event.str();
  FUZZ_CHECK(validUtf8(line), line.c_str());
  FUZZ_CHECK(Json(line).document(), line.c_str());
  return 0;
}
