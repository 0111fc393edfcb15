#include "triaged/proxy/router.h"

#include <algorithm>

#include "triaged/http/message.h"

namespace triaged::proxy {

namespace {

char lowerAscii(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

std::string_view stripQueryAndFragment(std::string_view target) {
  return target.substr(0, target.find_first_of("?#"));
}

}  // namespace

std::string Router::normalizeHost(std::string_view host) {
  // Optional whitespace around a field value is not part of it (RFC 9110 §5.5).
  while (!host.empty() && (host.front() == ' ' || host.front() == '\t')) host.remove_prefix(1);
  while (!host.empty() && (host.back() == ' ' || host.back() == '\t')) host.remove_suffix(1);
  if (!host.empty() && host.front() == '[') {
    const auto close = host.find(']');
    host = close == std::string_view::npos ? host.substr(1) : host.substr(1, close - 1);
  } else {
    const auto colon = host.find(':');
    // More than one colon: an unbracketed IPv6 literal, which has no port to strip.
    if (colon != std::string_view::npos && host.find(':', colon + 1) == std::string_view::npos) {
      host = host.substr(0, colon);
    }
  }
  if (host.size() > 1 && host.back() == '.') host.remove_suffix(1);
  std::string out(host);
  std::transform(out.begin(), out.end(), out.begin(), lowerAscii);
  return out;
}

Router::Router(const std::vector<config::RouteConfig>& routes) {
  entries_.reserve(routes.size());
  for (const auto& route : routes) {
    entries_.push_back(Entry{route, route.host ? normalizeHost(*route.host) : std::string()});
  }
  // stable_sort keeps file order among routes of equal priority.
  std::stable_sort(entries_.begin(), entries_.end(), [](const Entry& a, const Entry& b) {
    if (a.route.prefix.size() != b.route.prefix.size()) {
      return a.route.prefix.size() > b.route.prefix.size();
    }
    return a.route.host.has_value() && !b.route.host.has_value();
  });
}

const config::RouteConfig* Router::match(std::string_view host_header,
                                         std::string_view request_target) const {
  std::string_view path = request_target;
  std::string_view host_source = host_header;
  const http::TargetParts parts = http::splitRequestTarget(request_target);
  if (parts.form == http::TargetParts::Form::Absolute) {
    if (!parts.authority.empty()) host_source = parts.authority;
    path = parts.path.empty() || parts.path.front() != '/' ? std::string_view("/") : parts.path;
  }
  path = stripQueryAndFragment(path);
  if (path.empty() || path.front() != '/') return nullptr;

  // Normalised lazily: most configurations have no host routes at all.
  std::string host;
  bool host_ready = false;
  for (const auto& entry : entries_) {
    if (path.substr(0, entry.route.prefix.size()) != entry.route.prefix) continue;
    if (entry.route.host) {
      if (!host_ready) {
        host = normalizeHost(host_source);
        host_ready = true;
      }
      if (host != entry.host) continue;
    }
    return &entry.route;
  }
  return nullptr;
}

}  // namespace triaged::proxy
