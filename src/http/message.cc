#include "triaged/http/message.h"

#include <cstddef>

namespace triaged::http {
namespace {

// ASCII only: header names and the tokens we compare are ASCII by grammar, and locale-aware
// tolower() would make the comparison depend on the process locale.
char lowerAscii(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

std::string_view trimOws(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

}  // namespace

bool equalsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (lowerAscii(a[i]) != lowerAscii(b[i])) return false;
  }
  return true;
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
    std::string_view rest = h.value;
    while (true) {
      const size_t comma = rest.find(',');
      if (equalsIgnoreCase(trimOws(rest.substr(0, comma)), token)) return true;
      if (comma == std::string_view::npos) break;
      rest.remove_prefix(comma + 1);
    }
  }
  return false;
}

}  // namespace triaged::http
