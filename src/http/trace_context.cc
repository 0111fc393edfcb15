#include "triaged/http/trace_context.h"

#include <random>

namespace triaged::http {
namespace {

bool lowerHex(std::string_view s) {
  for (const char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

bool allZero(std::string_view s) { return s.find_first_not_of('0') == std::string_view::npos; }

}  // namespace

std::optional<TraceParent> parseTraceParent(std::string_view v) {
  // version "-" trace-id "-" parent-id "-" trace-flags: 2 + 1 + 32 + 1 + 16 + 1 + 2 = 55.
  while (!v.empty() && (v.back() == ' ' || v.back() == '\t')) v.remove_suffix(1);
  while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
  if (v.size() < 55 || v[2] != '-' || v[35] != '-' || v[52] != '-') return std::nullopt;
  const std::string_view version = v.substr(0, 2);
  if (!lowerHex(version) || version == "ff") return std::nullopt;
  // Version 00 is exactly 55 characters; a future version may append "-..." fields.
  if (version == "00" ? v.size() != 55 : (v.size() > 55 && v[55] != '-')) return std::nullopt;
  TraceParent t{v.substr(3, 32), v.substr(36, 16), v.substr(53, 2)};
  if (!lowerHex(t.trace_id) || !lowerHex(t.parent_id) || !lowerHex(t.flags)) return std::nullopt;
  if (allZero(t.trace_id) || allZero(t.parent_id)) return std::nullopt;
  return t;
}

std::optional<TraceParent> requestTraceParent(const Headers& headers) {
  const Header* found = nullptr;
  for (const Header& h : headers) {
    if (!equalsIgnoreCase(h.name, "traceparent")) continue;
    if (found != nullptr) return std::nullopt;  // two: the specification says ignore them
    found = &h;
  }
  return found != nullptr ? parseTraceParent(found->value) : std::nullopt;
}

std::string newTraceParent() {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out = "00-";
  const auto hex = [&out](uint64_t x, int digits) {
    for (int i = digits - 1; i >= 0; --i) out.push_back(kHex[(x >> (4 * i)) & 0xf]);
  };
  uint64_t hi = 0;
  uint64_t lo = 0;
  uint64_t span = 0;
  while (hi == 0 && lo == 0) {
    hi = rng();
    lo = rng();
  }
  while (span == 0) span = rng();
  hex(hi, 16);
  hex(lo, 16);
  out.push_back('-');
  hex(span, 16);
  out += "-01";  // sampled: a trace started so that its failures can be found in the tracer
  return out;
}

}  // namespace triaged::http
