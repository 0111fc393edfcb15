// Which upstream a request reaches: [[route]] prefixes (longest wins), exact Host routes, the
// 404 for a request no route matches, round robin over an upstream's endpoints, and endpoint
// names resolved rather than IP literals. Each fake upstream's own request counter is the
// witness of where a request went.

#include <catch2/catch.hpp>
#include <string>
#include <vector>

#include "harness/daemon_process.h"
#include "harness/fake_upstream.h"
#include "harness/http_client.h"
#include "harness/test_support.h"

namespace triaged::test {
namespace {

std::string serverSection() {
  return "[server]\n"
         "listen = \"127.0.0.1:0\"\n"
         "admin_listen = \"127.0.0.1:0\"\n";
}

std::string upstreamSection(const std::string& name, const std::vector<std::string>& endpoints) {
  std::string list;
  for (const auto& e : endpoints) list += (list.empty() ? "\"" : ", \"") + e + "\"";
  return "\n[[upstream]]\nname = \"" + name + "\"\nendpoints = [" + list + "]\n";
}

std::string routeSection(const std::string& prefix, const std::string& upstream,
                         const std::string& host = "") {
  std::string s = "\n[[route]]\nprefix = \"" + prefix + "\"\n";
  if (!host.empty()) s += "host = \"" + host + "\"\n";
  return s + "upstream = \"" + upstream + "\"\n";
}

// Two fakes, "a" and "b", behind one triaged: "/" -> a, "/api" -> b, Host shop.example -> b.
struct TwoUpstreams {
  TwoUpstreams()
      : daemon(serverSection() + upstreamSection("a", {a.address()}) +
               upstreamSection("b", {b.address()}) + routeSection("/", "a") +
               routeSection("/api", "b") + routeSection("/", "b", "shop.example")) {}

  // One GET on a fresh client connection; the status.
  int get(const std::string& path, const Headers& headers = {}) const {
    HttpClient client(daemon.port());
    return client.get(path, headers).status;
  }

  FakeUpstream a;
  FakeUpstream b;
  DaemonProcess daemon;
};

// One fake behind a single route bound to Host shop.example: other hosts match nothing.
struct HostOnly {
  HostOnly()
      : daemon(serverSection() + upstreamSection("app", {fake.address()}) +
               routeSection("/", "app", "shop.example")) {}

  FakeUpstream fake;
  DaemonProcess daemon;
};

}  // namespace

TEST_CASE("the longest matching route prefix picks the upstream", "[integration][routing]") {
  TwoUpstreams t;
  CHECK(t.get("/") == 200);
  CHECK(t.get("/apples") == 200);
  CHECK(t.get("/api") == 200);
  CHECK(t.get("/api/users?id=7") == 200);
  CHECK(t.a.stats().requests == 2);
  CHECK(t.b.stats().requests == 2);
}

TEST_CASE("a route with an exact Host sends that host's requests to its upstream",
          "[integration][routing]") {
  TwoUpstreams t;
  CHECK(t.get("/shop/cart", {{"Host", "shop.example"}}) == 200);
  CHECK(t.get("/shop/cart", {{"Host", "other.example"}}) == 200);
  CHECK(t.b.stats().requests == 1);
  CHECK(t.a.stats().requests == 1);
}

TEST_CASE("Host routing ignores the port and letter case of the Host header",
          "[integration][routing]") {
  TwoUpstreams t;
  CHECK(t.get("/", {{"Host", "Shop.EXAMPLE:8080"}}) == 200);
  CHECK(t.b.stats().requests == 1);
  CHECK(t.a.stats().requests == 0);
}

TEST_CASE("a request that matches no route gets 404 no_route from triaged",
          "[integration][routing]") {
  HostOnly h;
  HttpClient client(h.daemon.port());
  Response r = client.get("/anything");  // Host: 127.0.0.1:PORT
  CHECK(r.status == 404);
  CHECK(r.header("X-Triaged-Cause") == "no_route");
  CHECK(r.hasHeader("X-Request-Id"));
  CHECK(h.fake.stats().requests == 0);
  auto line = h.daemon.waitForLog(
      [](const std::string& l) { return l.find("\"cause\":\"no_route\"") != std::string::npos; });
  REQUIRE(line.has_value());
  CHECK(jsonField(*line, "status") == "404");
  CHECK(jsonField(*line, "request_id") == r.header("X-Request-Id"));
}

TEST_CASE("after a 404 no_route the keep-alive client connection still serves requests",
          "[integration][routing]") {
  HostOnly h;
  HttpClient client(h.daemon.port());
  Response r = client.get("/anything");
  REQUIRE(r.status == 404);
  INFO("404 head: " << r.raw_head);
  // A complete, well-formed GET was answered: nothing forces the connection to end, and it
  // was not announced with Connection: close.
  Response routed = client.get("/anything", {{"Host", "shop.example"}});
  CHECK(routed.status == 200);
  CHECK(h.fake.stats().requests == 1);
}

TEST_CASE("requests are spread round robin over an upstream's endpoints",
          "[integration][routing]") {
  FakeUpstream first;
  FakeUpstream second;
  DaemonProcess daemon(serverSection() +
                       upstreamSection("app", {first.address(), second.address()}) +
                       routeSection("/", "app"));
  for (int i = 0; i < 6; ++i) {
    HttpClient client(daemon.port());
    REQUIRE(client.get("/?size=10").status == 200);
  }
  CHECK(first.stats().requests == 3);
  CHECK(second.stats().requests == 3);
}

TEST_CASE("an endpoint given as localhost:PORT is resolved and proxied", "[integration][routing]") {
  FakeUpstream fake;
  DaemonProcess daemon(basicConfig("localhost:" + std::to_string(fake.port())));
  HttpClient client(daemon.port());
  Response r = client.get("/?body=via-name");
  CHECK(r.status == 200);
  CHECK(r.body == "via-name");
  CHECK(fake.stats().requests == 1);
}

}  // namespace triaged::test

namespace triaged::test {

TEST_CASE("an absolute-form target is routed on its authority and sent on in origin-form",
          "[integration][routing]") {
  // RFC 9112 3.2.2: the target's authority replaces Host; both the route and the upstream's
  // request follow it, and the upstream sees one Host only.
  TwoUpstreams t;
  HttpClient client(t.daemon.port());
  const Response r = client.rawRequest(
      "GET http://shop.example:8080/echo?x=1 HTTP/1.1\r\nHost: other.example\r\n\r\n");
  REQUIRE(r.status == 200);
  CHECK(t.b.stats().requests == 1);
  CHECK(t.a.stats().requests == 0);
  CHECK(contains(r.body, "target /echo?x=1\n"));
  CHECK(contains(r.body, "header Host: shop.example:8080\n"));
  CHECK(contains(r.body, "header X-Forwarded-Host: shop.example:8080\n"));
  CHECK_FALSE(contains(r.body, "other.example"));
}

}  // namespace triaged::test
