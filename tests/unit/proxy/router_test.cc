#include "triaged/proxy/router.h"

#include <catch2/catch.hpp>
#include <string>
#include <vector>

namespace triaged::proxy {
namespace {

using config::RouteConfig;

RouteConfig route(std::string prefix, std::string upstream) {
  return RouteConfig{std::move(prefix), std::nullopt, std::move(upstream)};
}

RouteConfig hostRoute(std::string prefix, std::string host, std::string upstream) {
  return RouteConfig{std::move(prefix), std::move(host), std::move(upstream)};
}

// The upstream name of the chosen route, or "" when none matches.
std::string pick(const Router& router, std::string_view host, std::string_view target) {
  const RouteConfig* chosen = router.match(host, target);
  return chosen == nullptr ? std::string() : chosen->upstream;
}

TEST_CASE("router picks by longest prefix, then host, then file order", "[unit][router]") {
  const Router router({
      route("/", "root"),
      route("/api", "api"),
      route("/api/v2/", "api-v2"),
      hostRoute("/api", "admin.example.com", "admin-api"),
      route("/api", "api-duplicate-later"),  // same length, no host, later in file: never wins
      hostRoute("/", "static.example.com", "static"),
      hostRoute("/only-host", "only.example.com", "only"),
  });
  struct Case {
    const char* host;
    const char* target;
    const char* upstream;  // "" = no route
  };
  const std::vector<Case> cases = {
      {"example.com", "/", "root"},
      {"example.com", "/index.html", "root"},
      {"example.com", "/api", "api"},
      {"example.com", "/apix", "api"},  // plain string prefix, not a path segment
      {"example.com", "/api/v2/users", "api-v2"},
      {"example.com", "/api/v2", "api"},  // "/api/v2/" is longer than the path
      {"example.com", "/API", "root"},    // paths are case-sensitive
      {"admin.example.com", "/api/users", "admin-api"},
      {"admin.example.com", "/api/v2/users", "api-v2"},  // longer prefix beats host
      {"ADMIN.Example.COM", "/api", "admin-api"},        // host case-insensitive
      {"admin.example.com:8443", "/api", "admin-api"},   // Host port ignored
      {"admin.example.com.", "/api", "admin-api"},       // trailing dot ignored
      {" admin.example.com ", "/api", "admin-api"},      // surrounding whitespace ignored
      {"static.example.com", "/x", "static"},
      {"static.example.com", "/api", "api"},
      {"other.example.com", "/only-host/x", "root"},  // host route only for its host
      {"only.example.com", "/only-host/x", "only"},
      {"", "/api", "api"},
      {"example.com", "/api?x=/api/v2/", "api"},  // query not part of the path
      {"example.com", "/api/v2#/frag", "api"},    // fragment either
      {"example.com", "/api/v2/?q", "api-v2"},
      {"example.com", "*", ""},                // asterisk-form
      {"example.com", "example.com:443", ""},  // authority-form (CONNECT)
      {"example.com", "", ""},
      {"example.com", "?q", ""},
  };
  for (const auto& c : cases) {
    INFO("Host: " << c.host << "  target: " << c.target);
    CHECK(pick(router, c.host, c.target) == c.upstream);
  }
}

TEST_CASE("router: absolute-form target gives host and path and overrides Host", "[unit][router]") {
  const Router router({
      route("/", "root"),
      hostRoute("/", "api.example.com", "api"),
      route("/v1", "v1"),
  });
  struct Case {
    const char* host;
    const char* target;
    const char* upstream;
  };
  const std::vector<Case> cases = {
      {"other.example.com", "http://api.example.com/x", "api"},
      {"api.example.com", "http://other.example.com/x", "root"},
      {"other.example.com", "http://API.example.com:8080/x?y", "api"},
      {"other.example.com", "HTTP://api.example.com", "api"},  // empty path is "/"
      {"other.example.com", "http://api.example.com?q=1", "api"},
      {"other.example.com", "http://user:pw@api.example.com/x", "api"},
      {"other.example.com", "http://h/v1/x", "v1"},
      {"api.example.com", "http:///x", "api"},  // empty authority: keep the Host header
      {"x", "https://[::1]:8443/v1", "v1"},
  };
  for (const auto& c : cases) {
    INFO("Host: " << c.host << "  target: " << c.target);
    CHECK(pick(router, c.host, c.target) == c.upstream);
  }
}

TEST_CASE("router: equal prefixes prefer a matching host regardless of file order",
          "[unit][router]") {
  const Router host_last({route("/a", "plain"), hostRoute("/a", "h.example", "hosted")});
  CHECK(pick(host_last, "h.example", "/a") == "hosted");
  CHECK(pick(host_last, "x.example", "/a") == "plain");

  const Router two_plain({route("/a", "first"), route("/a", "second")});
  CHECK(pick(two_plain, "x", "/a") == "first");
}

TEST_CASE("router: IPv6 hosts with and without brackets", "[unit][router]") {
  const Router router(
      {route("/", "root"), hostRoute("/", "[::1]", "v6"), hostRoute("/", "fe80::1", "v6b")});
  CHECK(pick(router, "[::1]:8080", "/") == "v6");
  CHECK(pick(router, "[::1]", "/") == "v6");
  CHECK(pick(router, "[FE80::1]:1", "/") == "v6b");
  CHECK(pick(router, "127.0.0.1:8080", "/") == "root");
}

TEST_CASE("router: no routes, no match; returned pointer stays valid", "[unit][router]") {
  const Router empty({});
  CHECK(empty.match("h", "/") == nullptr);
  CHECK(empty.size() == 0);

  std::vector<RouteConfig> routes = {route("/", "root")};
  const Router router(routes);
  routes.clear();  // the router keeps its own copy
  const RouteConfig* chosen = router.match("h", "/x");
  REQUIRE(chosen != nullptr);
  CHECK(chosen->upstream == "root");
  CHECK(router.size() == 1);
}

TEST_CASE("router: normalizeHost", "[unit][router]") {
  struct Case {
    const char* in;
    const char* out;
  };
  const std::vector<Case> cases = {
      {"Example.COM", "example.com"},
      {"example.com:80", "example.com"},
      {"[::1]:80", "::1"},
      {"[::1]", "::1"},
      {"::1", "::1"},
      {"example.com.", "example.com"},
      {"\texample.com ", "example.com"},
      {"", ""},
      {"1.2.3.4:5", "1.2.3.4"},
  };
  for (const auto& c : cases) {
    INFO(c.in);
    CHECK(Router::normalizeHost(c.in) == c.out);
  }
}

}  // namespace
}  // namespace triaged::proxy
