#include "triaged/core/json_value.h"

#include <charconv>
#include <cstdint>
#include <system_error>

#include "triaged/core/text.h"

namespace triaged {

std::optional<bool> JsonValue::boolean() const {
  if (const bool* b = std::get_if<bool>(&v_)) return *b;
  return std::nullopt;
}

std::optional<double> JsonValue::number() const {
  if (const double* d = std::get_if<double>(&v_)) return *d;
  return std::nullopt;
}

const JsonValue* JsonValue::find(std::string_view key) const {
  const Object* members = object();
  if (members == nullptr) return nullptr;
  for (const auto& [name, value] : *members) {
    if (name == key) return &value;
  }
  return nullptr;
}

namespace {

constexpr int kMaxDepth = 64;

// Recursive descent over `text`; the first problem ends the parse.
class Reader {
 public:
  explicit Reader(std::string_view text) : text_(text) {}

  Result<JsonValue> document() {
    JsonValue value = parseValue(0);
    if (error_.empty()) {
      skipSpace();
      if (at_ != text_.size()) fail("unexpected text after the JSON value");
    }
    if (!error_.empty()) return Error{error_ + " at byte " + std::to_string(error_at_)};
    return value;
  }

 private:
  void fail(std::string what) {
    if (!error_.empty()) return;
    error_ = std::move(what);
    error_at_ = at_;
  }
  bool failed() const { return !error_.empty(); }
  bool atEnd() const { return at_ >= text_.size(); }
  char peek() const { return atEnd() ? '\0' : text_[at_]; }

  void skipSpace() {
    while (!atEnd()) {
      const char c = text_[at_];
      if (c != ' ' && c != '\t' && c != '\n' && c != '\r') return;
      ++at_;
    }
  }

  bool literal(std::string_view word) {
    if (text_.substr(at_, word.size()) != word) {
      fail("invalid literal");
      return false;
    }
    at_ += word.size();
    return true;
  }

  JsonValue parseValue(int depth) {
    skipSpace();
    if (atEnd()) {
      fail("unexpected end of input");
      return {};
    }
    switch (peek()) {
      case '{':
        return parseObject(depth + 1);
      case '[':
        return parseArray(depth + 1);
      case '"': {
        std::string s = parseString();
        return JsonValue(std::move(s));
      }
      case 't':
        return literal("true") ? JsonValue(true) : JsonValue();
      case 'f':
        return literal("false") ? JsonValue(false) : JsonValue();
      case 'n':
        literal("null");
        return {};
      default:
        return parseNumber();
    }
  }

  JsonValue parseObject(int depth) {
    if (depth > kMaxDepth) {
      fail("nesting deeper than " + std::to_string(kMaxDepth));
      return {};
    }
    ++at_;  // '{'
    JsonValue::Object members;
    skipSpace();
    if (peek() == '}') {
      ++at_;
      return JsonValue(std::move(members));
    }
    for (;;) {
      skipSpace();
      if (peek() != '"') {
        fail("expected a string as object key");
        return {};
      }
      const size_t key_at = at_;
      std::string key = parseString();
      if (failed()) return {};
      for (const auto& m : members) {
        if (m.first == key) {
          at_ = key_at;
          fail("duplicate object key \"" + printable(key, 64) + "\"");
          return {};
        }
      }
      skipSpace();
      if (peek() != ':') {
        fail("expected ':' after an object key");
        return {};
      }
      ++at_;
      JsonValue value = parseValue(depth);
      if (failed()) return {};
      members.emplace_back(std::move(key), std::move(value));
      skipSpace();
      if (peek() == ',') {
        ++at_;
        continue;
      }
      if (peek() == '}') {
        ++at_;
        return JsonValue(std::move(members));
      }
      fail("expected ',' or '}' in an object");
      return {};
    }
  }

  JsonValue parseArray(int depth) {
    if (depth > kMaxDepth) {
      fail("nesting deeper than " + std::to_string(kMaxDepth));
      return {};
    }
    ++at_;  // '['
    JsonValue::Array items;
    skipSpace();
    if (peek() == ']') {
      ++at_;
      return JsonValue(std::move(items));
    }
    for (;;) {
      items.push_back(parseValue(depth));
      if (failed()) return {};
      skipSpace();
      if (peek() == ',') {
        ++at_;
        continue;
      }
      if (peek() == ']') {
        ++at_;
        return JsonValue(std::move(items));
      }
      fail("expected ',' or ']' in an array");
      return {};
    }
  }

  // number = [ minus ] int [ frac ] [ exp ]; int = zero / ( digit1-9 *DIGIT )
  JsonValue parseNumber() {
    const size_t start = at_;
    auto digits = [this] {
      const size_t from = at_;
      while (!atEnd() && text_[at_] >= '0' && text_[at_] <= '9') ++at_;
      return at_ - from;
    };
    if (peek() == '-') ++at_;
    if (peek() == '0') {
      ++at_;
      if (peek() >= '0' && peek() <= '9') {
        fail("leading zero in a number");
        return {};
      }
    } else if (digits() == 0) {
      fail(at_ == start ? "unexpected character" : "expected a digit");
      return {};
    }
    if (peek() == '.') {
      ++at_;
      if (digits() == 0) {
        fail("expected a digit after '.'");
        return {};
      }
    }
    if (peek() == 'e' || peek() == 'E') {
      ++at_;
      if (peek() == '+' || peek() == '-') ++at_;
      if (digits() == 0) {
        fail("expected a digit in the exponent");
        return {};
      }
    }
    double value = 0;
    const char* first = text_.data() + start;
    const char* last = text_.data() + at_;
    const auto [end, ec] = std::from_chars(first, last, value);
    if (ec != std::errc() || end != last) {
      at_ = start;
      fail("number out of range");
      return {};
    }
    return JsonValue(value);
  }

  // Four hex digits after "\u"; -1 when they are not.
  int hex4() {
    if (text_.size() - at_ < 4) return -1;
    int v = 0;
    for (int i = 0; i < 4; ++i) {
      const char c = text_[at_ + static_cast<size_t>(i)];
      int d = 0;
      if (c >= '0' && c <= '9') {
        d = c - '0';
      } else if (c >= 'a' && c <= 'f') {
        d = c - 'a' + 10;
      } else if (c >= 'A' && c <= 'F') {
        d = c - 'A' + 10;
      } else {
        return -1;
      }
      v = v * 16 + d;
    }
    at_ += 4;
    return v;
  }

  static void appendUtf8(std::string& out, uint32_t cp) {
    if (cp < 0x80) {
      out.push_back(static_cast<char>(cp));
    } else if (cp < 0x800) {
      out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
      out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    } else if (cp < 0x10000) {
      out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
      out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
      out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    } else {
      out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
      out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
      out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
      out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    }
  }

  bool escape(std::string& out) {
    const char c = peek();
    ++at_;
    switch (c) {
      case '"':
      case '\\':
      case '/':
        out.push_back(c);
        return true;
      case 'b':
        out.push_back('\b');
        return true;
      case 'f':
        out.push_back('\f');
        return true;
      case 'n':
        out.push_back('\n');
        return true;
      case 'r':
        out.push_back('\r');
        return true;
      case 't':
        out.push_back('\t');
        return true;
      case 'u':
        break;
      default:
        --at_;
        fail("invalid escape in a string");
        return false;
    }
    const int unit = hex4();
    if (unit < 0) {
      fail("expected four hex digits after \\u");
      return false;
    }
    auto cp = static_cast<uint32_t>(unit);
    if (cp >= 0xDC00 && cp <= 0xDFFF) {
      fail("unpaired low surrogate escape");
      return false;
    }
    if (cp >= 0xD800 && cp <= 0xDBFF) {
      if (text_.substr(at_, 2) != "\\u") {
        fail("unpaired high surrogate escape");
        return false;
      }
      at_ += 2;
      const int low = hex4();
      if (low < 0xDC00 || low > 0xDFFF) {
        fail("unpaired high surrogate escape");
        return false;
      }
      cp = 0x10000 + ((cp - 0xD800) << 10) + (static_cast<uint32_t>(low) - 0xDC00);
    }
    appendUtf8(out, cp);
    return true;
  }

  std::string parseString() {
    ++at_;  // '"'
    std::string out;
    for (;;) {
      if (atEnd()) {
        fail("unterminated string");
        return out;
      }
      const auto c = static_cast<unsigned char>(text_[at_]);
      if (c == '"') {
        ++at_;
        return out;
      }
      if (c == '\\') {
        ++at_;
        if (!escape(out)) return out;
        continue;
      }
      if (c < 0x20) {
        fail("unescaped control character in a string");
        return out;
      }
      if (c < 0x80) {
        out.push_back(static_cast<char>(c));
        ++at_;
        continue;
      }
      const size_t n = utf8SequenceLength(text_, at_);
      if (n == 0) {
        fail("invalid UTF-8 in a string");
        return out;
      }
      out.append(text_.substr(at_, n));
      at_ += n;
    }
  }

  std::string_view text_;
  size_t at_ = 0;
  std::string error_;
  size_t error_at_ = 0;
};

}  // namespace

Result<JsonValue> parseJson(std::string_view text) { return Reader(text).document(); }

}  // namespace triaged
