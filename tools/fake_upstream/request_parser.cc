#include "request_parser.h"

#include <charconv>

namespace fake_upstream {
namespace {

bool isTokenChar(char c) {
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

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

char lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

}  // namespace

bool equalsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (lower(a[i]) != lower(b[i])) return false;
  }
  return true;
}

bool listContains(std::string_view value, std::string_view token) {
  while (!value.empty()) {
    auto comma = value.find(',');
    if (equalsIgnoreCase(trim(value.substr(0, comma)), token)) return true;
    if (comma == std::string_view::npos) break;
    value.remove_prefix(comma + 1);
  }
  return false;
}

std::string_view RequestHead::path() const {
  std::string_view t = target;
  return t.substr(0, t.find('?'));
}

std::string_view RequestHead::query() const {
  std::string_view t = target;
  auto q = t.find('?');
  return q == std::string_view::npos ? std::string_view() : t.substr(q + 1);
}

const std::string* RequestHead::header(std::string_view name) const {
  for (const auto& [n, v] : headers) {
    if (equalsIgnoreCase(n, name)) return &v;
  }
  return nullptr;
}

HeadParse parseRequestHead(std::string_view text) {
  HeadParse r;
  auto fail = [&r](std::string why) {
    r.ok = false;
    r.error = std::move(why);
    return r;
  };
  for (char c : text) {
    if (c == '\0') return fail("NUL in head");
  }

  // Request line.
  auto eol = text.find("\r\n");
  std::string_view line = text.substr(0, eol);
  text = eol == std::string_view::npos ? std::string_view() : text.substr(eol + 2);
  if (line.find_first_of("\r\n") != std::string_view::npos) return fail("bare CR or LF");
  auto sp1 = line.find(' ');
  auto sp2 = sp1 == std::string_view::npos ? sp1 : line.find(' ', sp1 + 1);
  if (sp2 == std::string_view::npos || line.find(' ', sp2 + 1) != std::string_view::npos) {
    return fail("bad request line");
  }
  std::string_view method = line.substr(0, sp1);
  std::string_view target = line.substr(sp1 + 1, sp2 - sp1 - 1);
  std::string_view version = line.substr(sp2 + 1);
  if (method.empty() || target.empty()) return fail("bad request line");
  for (char c : method) {
    if (!isTokenChar(c)) return fail("bad method");
  }
  for (char c : target) {
    if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f) return fail("bad target");
  }
  if (version != "HTTP/1.1" && version != "HTTP/1.0") return fail("unsupported version");
  r.head.method = std::string(method);
  r.head.target = std::string(target);
  r.head.version = std::string(version);

  // Header fields.
  while (!text.empty()) {
    eol = text.find("\r\n");
    line = text.substr(0, eol);
    text = eol == std::string_view::npos ? std::string_view() : text.substr(eol + 2);
    if (line.find_first_of("\r\n") != std::string_view::npos) return fail("bare CR or LF");
    if (line.empty()) return fail("empty header line");
    if (line.front() == ' ' || line.front() == '\t') return fail("obs-fold");
    auto colon = line.find(':');
    if (colon == std::string_view::npos || colon == 0) return fail("header without name");
    std::string_view name = line.substr(0, colon);
    for (char c : name) {
      if (!isTokenChar(c)) return fail("bad header name");
    }
    std::string_view value = trim(line.substr(colon + 1));
    for (char c : value) {
      auto u = static_cast<unsigned char>(c);
      if ((u < 0x20 && c != '\t') || u == 0x7f) return fail("control character in header value");
    }
    r.head.headers.emplace_back(std::string(name), std::string(value));
  }

  // Framing, by RFC 9112 section 6, refusing every ambiguity.
  const std::string* te = nullptr;
  bool have_cl = false;
  int host_count = 0;
  bool http10 = r.head.version == "HTTP/1.0";
  bool connection_close = false;
  bool connection_keep_alive = false;
  bool connection_upgrade = false;
  for (const auto& [n, v] : r.head.headers) {
    if (equalsIgnoreCase(n, "Transfer-Encoding")) {
      if (te != nullptr) return fail("duplicate Transfer-Encoding");
      te = &v;
    } else if (equalsIgnoreCase(n, "Content-Length")) {
      uint64_t len = 0;
      auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), len);
      if (v.empty() || ec != std::errc() || end != v.data() + v.size()) {
        return fail("bad Content-Length");
      }
      if (have_cl) return fail("duplicate Content-Length");
      have_cl = true;
      r.head.content_length = len;
    } else if (equalsIgnoreCase(n, "Host")) {
      ++host_count;
    } else if (equalsIgnoreCase(n, "Connection")) {
      connection_close = connection_close || listContains(v, "close");
      connection_keep_alive = connection_keep_alive || listContains(v, "keep-alive");
      connection_upgrade = connection_upgrade || listContains(v, "upgrade");
    } else if (equalsIgnoreCase(n, "Expect")) {
      if (equalsIgnoreCase(v, "100-continue")) r.head.expect_continue = true;
    } else if (equalsIgnoreCase(n, "Upgrade")) {
      if (listContains(v, "websocket")) r.head.websocket_upgrade = true;
    }
  }
  if (te != nullptr) {
    if (have_cl) return fail("both Content-Length and Transfer-Encoding");
    if (http10) return fail("Transfer-Encoding on HTTP/1.0");
    if (!equalsIgnoreCase(trim(*te), "chunked")) return fail("unsupported Transfer-Encoding");
    r.head.framing = BodyFraming::Chunked;
  } else if (have_cl) {
    r.head.framing = r.head.content_length > 0 ? BodyFraming::Length : BodyFraming::None;
  }
  if (!http10 && host_count != 1) return fail("HTTP/1.1 needs exactly one Host");
  if (host_count > 1) return fail("duplicate Host");
  r.head.keep_alive = http10 ? (connection_keep_alive && !connection_close) : !connection_close;
  r.head.websocket_upgrade = r.head.websocket_upgrade && connection_upgrade;
  r.ok = true;
  return r;
}

}  // namespace fake_upstream
