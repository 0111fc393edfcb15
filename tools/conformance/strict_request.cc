#include "strict_request.h"

#include <cstdint>
#include <optional>

namespace conformance {
namespace {

constexpr size_t kMaxHead = 64 * 1024;

bool isTchar(char c) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
  switch (c) {
    case '!':
    case '#':
    case '$':
    case '%':
    case '&':
    case '\'':
    case '*':
    case '+':
    case '-':
    case '.':
    case '^':
    case '_':
    case '`':
    case '|':
    case '~':
      return true;
    default:
      return false;
  }
}

bool isToken(std::string_view s) {
  if (s.empty()) return false;
  for (const char c : s) {
    if (!isTchar(c)) return false;
  }
  return true;
}

bool isHex(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

bool lowerEquals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    char c = a[i];
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    if (c != b[i]) return false;
  }
  return true;
}

// field-value: VCHAR, obs-text, and SP/HTAB between them (leading OWS is already skipped).
bool isFieldValue(std::string_view v) {
  for (const char ch : v) {
    const auto c = static_cast<unsigned char>(ch);
    if (c == '\t' || c == ' ') continue;
    if (c < 0x21 || c == 0x7f) return false;
  }
  return true;
}

// Host = uri-host [ ":" port ]: a reg-name or an IPv6 literal in brackets; no userinfo.
bool isHost(std::string_view v) {
  if (v.empty()) return false;  // an origin-form request through a proxy names its host
  std::string_view port;
  if (v.front() == '[') {
    const size_t close = v.find(']');
    if (close == std::string_view::npos || close < 3) return false;
    for (const char c : v.substr(1, close - 1)) {
      if (!isHex(c) && c != ':' && c != '.') return false;
    }
    v.remove_prefix(close + 1);
    if (v.empty()) return true;
    if (v.front() != ':') return false;
    port = v.substr(1);
  } else {
    const size_t colon = v.find(':');
    // reg-name (RFC 3986 3.2.2) without the comma, which makes Host a list to a recipient that
    // joins field lines (RFC 9110 5.3), as two Host lines would be.
    for (const char c : v.substr(0, colon)) {
      const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                      std::string_view("-._~!$&'()*+;=%").find(c) != std::string_view::npos;
      if (!ok) return false;
    }
    if (colon == std::string_view::npos) return true;
    port = v.substr(colon + 1);
  }
  if (port.empty() || port.size() > 5) return false;
  for (const char c : port) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

// One CRLF-ended line from `in` at `pos`; nullopt when not all there yet. A bare CR or LF in
// it is an error.
struct Line {
  std::string_view text;
  size_t next = 0;
};
std::optional<Line> takeLine(std::string_view in, size_t pos, std::string& error) {
  for (size_t i = pos; i < in.size(); ++i) {
    if (in[i] == '\n') {
      error = "bare LF";
      return std::nullopt;
    }
    if (in[i] == '\r') {
      if (i + 1 == in.size()) return std::nullopt;
      if (in[i + 1] != '\n') {
        error = "bare CR";
        return std::nullopt;
      }
      return Line{in.substr(pos, i - pos), i + 2};
    }
  }
  return std::nullopt;
}

struct Field {
  std::string_view name;
  std::string_view value;
};

// A field line: name, colon at once, OWS, value, OWS. Empty `error` and a false return mean
// "not a field".
bool parseField(std::string_view line, Field& f, std::string& error) {
  if (line.front() == ' ' || line.front() == '\t') {
    error = "obs-fold or whitespace before a field";
    return false;
  }
  const size_t colon = line.find(':');
  if (colon == std::string_view::npos) {
    error = "field without a colon";
    return false;
  }
  f.name = line.substr(0, colon);
  if (!isToken(f.name)) {
    error = "field name is not a token";
    return false;
  }
  std::string_view v = line.substr(colon + 1);
  while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
  while (!v.empty() && (v.back() == ' ' || v.back() == '\t')) v.remove_suffix(1);
  if (!isFieldValue(v)) {
    error = "control character in a field value";
    return false;
  }
  f.value = v;
  return true;
}

// chunk-ext = *( BWS ";" BWS ext-name [ BWS "=" BWS ext-val ] ), ext-val token / quoted-string.
bool isChunkExt(std::string_view s) {
  size_t i = 0;
  auto ows = [&] {
    while (i < s.size() && (s[i] == ' ' || s[i] == '\t')) ++i;
  };
  auto token = [&] {
    const size_t start = i;
    while (i < s.size() && isTchar(s[i])) ++i;
    return i > start;
  };
  while (true) {
    ows();
    if (i == s.size()) return true;
    if (s[i] != ';') return false;
    ++i;
    ows();
    if (!token()) return false;
    ows();
    if (i < s.size() && s[i] == '=') {
      ++i;
      ows();
      if (i < s.size() && s[i] == '"') {
        ++i;
        while (i < s.size() && s[i] != '"') {
          if (s[i] == '\\') ++i;
          if (i < s.size() && (static_cast<unsigned char>(s[i]) < 0x20 && s[i] != '\t')) {
            return false;
          }
          ++i;
        }
        if (i == s.size()) return false;
        ++i;
      } else if (!token()) {
        return false;
      }
    }
  }
}

}  // namespace

StrictParse parseStrictRequest(std::string_view in) {
  StrictParse r;
  auto fail = [&r](std::string why) {
    r.status = StrictParse::Status::Error;
    r.error = std::move(why);
    return r;
  };
  std::string error;
  auto line = takeLine(in, 0, error);
  if (!error.empty()) return fail(error);
  if (!line) return in.size() > kMaxHead ? fail("head too large") : r;

  // request-line = method SP request-target SP HTTP-version, single spaces.
  const std::string_view rl = line->text;
  const size_t sp1 = rl.find(' ');
  const size_t sp2 = sp1 == std::string_view::npos ? sp1 : rl.find(' ', sp1 + 1);
  if (sp2 == std::string_view::npos || rl.find(' ', sp2 + 1) != std::string_view::npos) {
    return fail("request-line is not three parts with single spaces");
  }
  const std::string_view method = rl.substr(0, sp1);
  const std::string_view target = rl.substr(sp1 + 1, sp2 - sp1 - 1);
  const std::string_view version = rl.substr(sp2 + 1);
  if (!isToken(method)) return fail("method is not a token");
  if (version != "HTTP/1.1") return fail("version is not HTTP/1.1 (a proxy sends its own)");
  if (target.empty()) return fail("empty target");
  for (const char c : target) {
    const auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u >= 0x7f || c == '#') return fail("target byte outside the grammar");
  }
  if (target.front() != '/' && !(target == "*" && method == "OPTIONS")) {
    return fail("target is not origin-form");
  }

  size_t pos = line->next;
  int hosts = 0;
  int lengths = 0;
  int codings = 0;
  uint64_t content_length = 0;
  bool chunked = false;
  while (true) {
    auto l = takeLine(in, pos, error);
    if (!error.empty()) return fail(error);
    if (!l) return pos > kMaxHead ? fail("head too large") : r;
    pos = l->next;
    if (l->text.empty()) break;
    Field f;
    if (!parseField(l->text, f, error)) return fail(error);
    if (lowerEquals(f.name, "host")) {
      ++hosts;
      if (!isHost(f.value)) return fail("Host is not host[:port]");
    } else if (lowerEquals(f.name, "content-length")) {
      ++lengths;
      if (f.value.empty() || f.value.size() > 15) return fail("Content-Length is not a number");
      for (const char c : f.value) {
        if (c < '0' || c > '9') return fail("Content-Length is not a number");
        content_length = content_length * 10 + static_cast<uint64_t>(c - '0');
      }
    } else if (lowerEquals(f.name, "transfer-encoding")) {
      ++codings;
      if (!lowerEquals(f.value, "chunked")) return fail("Transfer-Encoding is not \"chunked\"");
      chunked = true;
    }
  }
  if (hosts != 1) return fail("not exactly one Host");
  if (lengths > 1 || codings > 1) return fail("framing header repeated");
  if (lengths == 1 && chunked) return fail("Content-Length with Transfer-Encoding");

  if (!chunked) {
    if (in.size() - pos < content_length) return r;
    pos += content_length;
  } else {
    while (true) {
      auto l = takeLine(in, pos, error);
      if (!error.empty()) return fail(error);
      if (!l) return r;
      pos = l->next;
      const std::string_view text = l->text;
      size_t digits = 0;
      uint64_t size = 0;
      while (digits < text.size() && isHex(text[digits])) {
        const char c = text[digits];
        size = size * 16 + static_cast<uint64_t>(c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10);
        ++digits;
      }
      if (digits == 0 || digits > 16) return fail("chunk size is not 1-16 hex digits");
      if (!isChunkExt(text.substr(digits))) return fail("chunk extension outside its grammar");
      if (size == 0) break;
      if (size > in.size() - pos || in.size() - pos - size < 2) return r;
      pos += size;
      if (in.substr(pos, 2) != "\r\n") return fail("chunk data not followed by CRLF");
      pos += 2;
    }
    while (true) {  // trailer section
      auto l = takeLine(in, pos, error);
      if (!error.empty()) return fail(error);
      if (!l) return r;
      pos = l->next;
      if (l->text.empty()) break;
      Field f;
      if (!parseField(l->text, f, error)) return fail(error);
    }
  }
  r.status = StrictParse::Status::Complete;
  r.length = pos;
  r.target = std::string(target);
  r.method = std::string(method);
  return r;
}

}  // namespace conformance
