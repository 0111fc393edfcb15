#pragma once

// Picks the [[route]] for a request. Pure logic (no libevent), built once from the validated
// config and then only read, so one Router can be shared by every worker thread.

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "triaged/config/config.h"

namespace triaged::proxy {

// Owns a copy of the routes it was built from; the pointers match() returns live as long as the
// Router. Thread-safe for concurrent match() calls (it is immutable after construction).
class Router {
 public:
  explicit Router(const std::vector<config::RouteConfig>& routes);

  // The best route for a request, or nullptr when none matches (the caller answers 404).
  //  - host_header: the Host header value as received; its port is ignored ("a.com:8080",
  //    "[::1]:8080"), the comparison is case-insensitive and a trailing dot is ignored.
  //  - request_target: origin-form ("/p?q") or absolute-form ("http://h:1/p?q"). An absolute
  //    target's host overrides the Host header (RFC 9112 §3.2.2). Query and fragment are not
  //    part of the matched path. Asterisk- and authority-form targets match nothing.
  // Choice: the longest prefix wins (plain string prefix, case-sensitive, no normalisation);
  // among equally long prefixes a route whose host matches beats one without a host; then the
  // earlier route in the file. A route with a host only matches that host.
  const config::RouteConfig* match(std::string_view host_header,
                                   std::string_view request_target) const;

  size_t size() const { return entries_.size(); }

  // The Host-header forms reduced to what routes compare: lowercase, no port, no brackets, no
  // trailing dot. Exposed for the session's logs and for tests.
  static std::string normalizeHost(std::string_view host);

 private:
  struct Entry {
    config::RouteConfig route;
    std::string host;  // normalised; empty when the route has no host
  };

  // Sorted by priority (prefix length, then host before host-less, then file order), so the
  // first entry that matches is the answer.
  std::vector<Entry> entries_;
};

}  // namespace triaged::proxy
