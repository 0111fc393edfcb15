#include "triaged/admin/http_get.h"

#include <catch2/catch.hpp>

using triaged::admin::parseHttpEndpoint;
using triaged::admin::urlEncode;

TEST_CASE("an admin address and a Prometheus URL are both endpoints", "[unit][http_get]") {
  const auto plain = parseHttpEndpoint("127.0.0.1:9901");
  REQUIRE(plain);
  CHECK(plain->host == "127.0.0.1");
  CHECK(plain->port == "9901");
  CHECK(plain->authority == "127.0.0.1:9901");
  CHECK(plain->base_path.empty());

  const auto v6 = parseHttpEndpoint("[::1]:9090");
  REQUIRE(v6);
  CHECK(v6->host == "::1");
  CHECK(v6->authority == "[::1]:9090");

  const auto url = parseHttpEndpoint("http://prometheus.monitoring:9090/prom/");
  REQUIRE(url);
  CHECK(url->host == "prometheus.monitoring");
  CHECK(url->port == "9090");
  CHECK(url->base_path == "/prom");

  const auto no_port = parseHttpEndpoint("http://prometheus");
  REQUIRE(no_port);
  CHECK(no_port->port == "80");
}

TEST_CASE("malformed endpoints are refused, not guessed", "[unit][http_get]") {
  CHECK_FALSE(parseHttpEndpoint(""));
  CHECK_FALSE(parseHttpEndpoint("127.0.0.1"));        // no port
  CHECK_FALSE(parseHttpEndpoint("::1:9901"));         // IPv6 without brackets
  CHECK_FALSE(parseHttpEndpoint("127.0.0.1:0"));      // port 0 cannot be connected to
  CHECK_FALSE(parseHttpEndpoint("127.0.0.1:99999"));  // out of range
  CHECK_FALSE(parseHttpEndpoint("127.0.0.1:9x"));
  CHECK_FALSE(parseHttpEndpoint("https://prometheus:9090"));
  CHECK_FALSE(parseHttpEndpoint("ftp://prometheus:9090"));
  CHECK_FALSE(parseHttpEndpoint("http://prometheus:9090/api?x=1"));
  CHECK_FALSE(parseHttpEndpoint("[::1:9090"));
}

TEST_CASE("query values are percent-encoded", "[unit][http_get]") {
  CHECK(urlEncode("sum by (cause) (rate(x[5m]))") ==
        "sum%20by%20%28cause%29%20%28rate%28x%5B5m%5D%29%29");
  CHECK(urlEncode("{namespace=\"shop\"}") == "%7Bnamespace%3D%22shop%22%7D");
  CHECK(urlEncode("a-b_c.d~e") == "a-b_c.d~e");
  CHECK(urlEncode("\xe4") == "%E4");
}
