#include "triaged/http/message.h"

#include <arpa/inet.h>

#include <algorithm>
#include <array>
#include <cstddef>

namespace triaged::http {
namespace {

std::string_view trimOws(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// Calls fn(token) for each element of a comma-separated list, OWS trimmed; stops when fn
// returns true and returns whether it did.
template <typename Fn>
bool forEachListToken(std::string_view list, Fn&& fn) {
  while (true) {
    const size_t comma = list.find(',');
    const std::string_view token = trimOws(list.substr(0, comma));
    if (!token.empty() && fn(token)) return true;
    if (comma == std::string_view::npos) return false;
    list.remove_prefix(comma + 1);
  }
}

constexpr bool isAlpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
constexpr bool isDigit(char c) { return c >= '0' && c <= '9'; }
bool isHexDigit(char c) { return isDigit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }

// RFC 3986 2.3 unreserved and 2.2 sub-delims.
constexpr bool isUnreservedOrSubDelim(char c, bool comma = true) {
  if (c == ',') return comma;
  if (isAlpha(c) || isDigit(c)) return true;
  switch (c) {
    case '-':
    case '.':
    case '_':
    case '~':  // unreserved
    case '!':
    case '$':
    case '&':
    case '\'':
    case '(':
    case ')':
    case '*':
    case '+':  // sub-delims
    case ',':
    case ';':
    case '=':
      return true;
    default:
      return false;
  }
}

// isUnreservedOrSubDelim(c, /*comma=*/false) for every byte: Host is checked on every request.
constexpr std::array<bool, 256> kRegNameChar = [] {
  std::array<bool, 256> t{};
  for (int c = 0; c < 256; ++c)
    t[static_cast<size_t>(c)] = isUnreservedOrSubDelim(static_cast<char>(c), false);
  return t;
}();

// reg-name = *( unreserved / pct-encoded / sub-delims ); covers IPv4address too. Without the
// comma: Host is a singleton, and "a,b" is what a recipient that joins field lines with commas
// (RFC 9110 5.3) makes of two Host lines, which get 400.
bool isRegName(std::string_view s) {
  for (size_t i = 0; i < s.size(); ++i) {
    if (kRegNameChar[static_cast<unsigned char>(s[i])]) continue;
    if (s[i] != '%' || i + 2 >= s.size() || !isHexDigit(s[i + 1]) || !isHexDigit(s[i + 2])) {
      return false;
    }
    i += 2;
  }
  return true;
}

// IP-literal's inside: IPv6address (checked by inet_pton) or IPvFuture.
bool isIpLiteral(std::string_view s) {
  if (!s.empty() && (s.front() == 'v' || s.front() == 'V')) {
    const size_t dot = s.find('.');
    if (dot == std::string_view::npos || dot == 1 || dot + 1 == s.size()) return false;
    for (size_t i = 1; i < dot; ++i) {
      if (!isHexDigit(s[i])) return false;
    }
    for (size_t i = dot + 1; i < s.size(); ++i) {
      if (!isUnreservedOrSubDelim(s[i]) && s[i] != ':') return false;
    }
    return true;
  }
  std::array<char, INET6_ADDRSTRLEN> text{};
  if (s.empty() || s.size() >= text.size()) return false;
  s.copy(text.data(), s.size());
  std::array<unsigned char, 16> addr{};
  return inet_pton(AF_INET6, text.data(), addr.data()) == 1;
}

}  // namespace

TargetParts splitRequestTarget(std::string_view target) {
  TargetParts parts;
  if (target == "*") {
    parts.form = TargetParts::Form::Asterisk;
    parts.path = target;
    return parts;
  }
  if (!target.empty() && target.front() == '/') {
    parts.form = TargetParts::Form::Origin;
    parts.path = target;
    return parts;
  }
  // absolute-URI = scheme ":" hier-part; an http(s) target's hier-part is "//" authority ...
  const size_t colon = target.find(':');
  if (colon == std::string_view::npos || colon == 0 || !isAlpha(target.front()) ||
      target.substr(colon + 1, 2) != "//") {
    return parts;
  }
  for (const char c : target.substr(0, colon)) {
    if (!isAlpha(c) && !isDigit(c) && c != '+' && c != '-' && c != '.') return parts;
  }
  parts.form = TargetParts::Form::Absolute;
  parts.scheme = target.substr(0, colon);
  const std::string_view after = target.substr(colon + 3);
  const size_t authority_end = std::min(after.find_first_of("/?#"), after.size());
  parts.authority = after.substr(0, authority_end);
  parts.path = after.substr(authority_end);
  // userinfo never names the host (and an http(s) URI must not carry it: RFC 9110 4.2.4).
  const size_t at = parts.authority.rfind('@');
  if (at != std::string_view::npos) {
    parts.has_userinfo = true;
    parts.userinfo = parts.authority.substr(0, at);
    parts.authority.remove_prefix(at + 1);
  }
  return parts;
}

bool isValidHost(std::string_view value) {
  // An http(s) URI always has a host (RFC 9110 4.2.1), so an empty Host names none.
  if (value.empty()) return false;
  std::string_view port;
  if (!value.empty() && value.front() == '[') {
    const size_t close = value.find(']');
    if (close == std::string_view::npos || !isIpLiteral(value.substr(1, close - 1))) return false;
    const std::string_view rest = value.substr(close + 1);
    if (rest.empty()) return true;
    if (rest.front() != ':') return false;
    port = rest.substr(1);
  } else {
    const size_t colon = value.find(':');
    if (colon == 0 || !isRegName(value.substr(0, colon))) return false;
    if (colon == std::string_view::npos) return true;
    port = value.substr(colon + 1);
  }
  if (port.size() > 5) return false;
  for (const char c : port) {
    if (!isDigit(c)) return false;
  }
  return true;
}

KnownHeader knownHeader(std::string_view n) {
  using K = KnownHeader;
  const auto is = [n](std::string_view name) { return equalsIgnoreCase(n, name); };
  switch (n.size()) {
    case 2:
      return is("TE") ? K::Te : K::Other;
    case 4:
      return is("Host") ? K::Host : K::Other;
    case 6:
      return is("Expect") ? K::Expect : K::Other;
    case 7:
      if (is("Upgrade")) return K::Upgrade;
      return is("Trailer") ? K::Trailer : K::Other;
    case 10:
      if (is("Connection")) return K::Connection;
      return is("Keep-Alive") ? K::KeepAlive : K::Other;
    case 12:
      return is("X-Request-Id") ? K::XRequestId : K::Other;
    case 14:
      return is("Content-Length") ? K::ContentLength : K::Other;
    case 15:
      return is("X-Forwarded-For") ? K::XForwardedFor : K::Other;
    case 16:
      if (is("Proxy-Connection")) return K::ProxyConnection;
      if (is("X-Forwarded-Host")) return K::XForwardedHost;
      return is("Content-Encoding") ? K::ContentEncoding : K::Other;
    case 17:
      if (is("Transfer-Encoding")) return K::TransferEncoding;
      return is("X-Forwarded-Proto") ? K::XForwardedProto : K::Other;
    default:
      return K::Other;
  }
}

bool isHopByHopName(KnownHeader kind) {
  switch (kind) {
    case KnownHeader::Connection:
    case KnownHeader::KeepAlive:
    case KnownHeader::ProxyConnection:
    case KnownHeader::Te:
    case KnownHeader::TransferEncoding:
    case KnownHeader::Upgrade:
      return true;
    default:
      return false;
  }
}

const Header* findHeader(const Headers& headers, std::string_view name) {
  for (const Header& h : headers) {
    if (equalsIgnoreCase(h.name, name)) return &h;
  }
  return nullptr;
}

bool headerHasToken(const Headers& headers, std::string_view name, std::string_view token) {
  // A list-valued field may be split over several lines; RFC 9110 5.3 makes them one list.
  for (const Header& h : headers) {
    if (!equalsIgnoreCase(h.name, name)) continue;
    if (forEachListToken(h.value, [&](std::string_view t) { return equalsIgnoreCase(t, token); })) {
      return true;
    }
  }
  return false;
}

KeepAliveParams parseKeepAlive(const Headers& headers) {
  KeepAliveParams out;
  for (const Header& h : headers) {
    if (kindOf(h) != KnownHeader::KeepAlive) continue;
    // "timeout=5, max=100": a comma list of name=value parameters.
    forEachListToken(h.value, [&out](std::string_view t) {
      const size_t eq = t.find('=');
      if (eq == std::string_view::npos) return false;
      std::string_view name = t.substr(0, eq);
      std::string_view value = t.substr(eq + 1);
      while (!name.empty() && (name.back() == ' ' || name.back() == '\t')) name.remove_suffix(1);
      while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) {
        value.remove_prefix(1);
      }
      if (value.empty() || value.size() > 9) return false;
      uint32_t n = 0;
      for (const char c : value) {
        if (c < '0' || c > '9') return false;
        n = n * 10 + static_cast<uint32_t>(c - '0');
      }
      if (equalsIgnoreCase(name, "timeout")) out.timeout_seconds = n;
      if (equalsIgnoreCase(name, "max")) out.max_requests = n;
      return false;
    });
  }
  return out;
}

ConnectionTokens::ConnectionTokens(const Headers& headers) : headers_(headers) {
  for (const Header& h : headers) {
    if (kindOf(h) != KnownHeader::Connection) continue;
    forEachListToken(h.value, [&](std::string_view t) {
      // A token naming a field that is hop-by-hop anyway ("keep-alive", "upgrade", "te") adds
      // nothing: contains() is asked only about the others. This leaves most responses (an
      // upstream's "Connection: keep-alive") with no token to compare every field name with.
      if (isHopByHopName(knownHeader(t))) return false;
      if (count_ == kMax) {
        overflow_ = true;
        return true;
      }
      tokens_[count_++] = t;
      return false;
    });
  }
}

bool ConnectionTokens::contains(std::string_view name) const {
  for (size_t i = 0; i < count_; ++i) {
    if (equalsIgnoreCase(tokens_[i], name)) return true;
  }
  return overflow_ && headerHasToken(headers_, "Connection", name);
}

void RequestHead::reset() {
  Headers kept = std::move(headers);
  kept.clear();
  *this = RequestHead{};
  headers = std::move(kept);
}

void ResponseHead::reset() {
  Headers kept = std::move(headers);
  kept.clear();
  *this = ResponseHead{};
  headers = std::move(kept);
}

}  // namespace triaged::http
