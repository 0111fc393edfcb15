// Time limits as an operator sees them: request_timeout before the response head, a body that
// stalls (body_idle_timeout) or is cut off (truncated_response) after the head was sent, idle
// client connections closed by client_idle_timeout, and a multi-worker daemon serving requests.
// connect_timeout is covered in causes_test.cc (a listener whose accept queue is full drops SYNs).

#include <catch2/catch.hpp>
#include <chrono>
#include <optional>
#include <string>

#include "harness/daemon_process.h"
#include "harness/fake_upstream.h"
#include "harness/http_client.h"
#include "harness/proxied.h"
#include "harness/test_support.h"

namespace triaged::test {
namespace {

using Clock = std::chrono::steady_clock;

std::optional<std::string> waitForFailure(DaemonProcess& daemon, const std::string& cause) {
  return daemon.waitForLog([&](const std::string& l) {
    return jsonField(l, "event") == "upstream_failure" && jsonField(l, "cause") == cause;
  });
}

}  // namespace

TEST_CASE("an upstream slower than request_timeout is answered 504 request_timeout",
          "[integration][timeouts]") {
  Proxied p("request_timeout = \"300ms\"");
  HttpClient client(p.daemon.port());
  auto start = Clock::now();
  Response r = client.get("/?delay_headers=2000", {}, withTimeout(5s));
  auto elapsed = Clock::now() - start;
  CHECK(r.status == 504);
  CHECK(r.header("X-Triaged-Cause") == "request_timeout");
  CHECK(r.hasHeader("X-Request-Id"));
  CHECK(elapsed >= 250ms);
  CHECK(elapsed < 1500ms);
  auto line = waitForFailure(p.daemon, "request_timeout");
  REQUIRE(line.has_value());
  CHECK(jsonField(*line, "status") == "504");
  CHECK(jsonField(*line, "class") == "timeout");
  CHECK(jsonField(*line, "origin") == "proxy");
  CHECK(jsonField(*line, "phase") == "read_response_headers");
}

TEST_CASE("a body that stalls past body_idle_timeout leaves the client with an aborted 200",
          "[integration][timeouts]") {
  Proxied p("body_idle_timeout = \"300ms\"");
  HttpClient client(p.daemon.port());
  Response r = client.get("/?action=stall_body&size=100000&after=1000", {}, withTimeout(5s));
  INFO("body_bytes " << r.body_bytes << " peer_closed " << r.peer_closed << " timed_out "
                     << r.timed_out);
  CHECK(r.status == 200);
  CHECK_FALSE(r.complete);
  CHECK(r.peer_closed);
  CHECK_FALSE(r.timed_out);
  CHECK(r.body_bytes < 100000);
  auto line = waitForFailure(p.daemon, "body_idle_timeout");
  REQUIRE(line.has_value());
  CHECK(jsonField(*line, "class") == "timeout");
  CHECK(jsonField(*line, "origin") == "upstream");
  CHECK(jsonField(*line, "phase") == "stream_body");
}

TEST_CASE("an upstream closing inside a Content-Length body leaves the client with an aborted 200",
          "[integration][timeouts]") {
  Proxied p;
  HttpClient client(p.daemon.port());
  Response r = client.get("/?action=close_mid_body&size=100000&after=5000");
  INFO("body_bytes " << r.body_bytes << " peer_closed " << r.peer_closed);
  CHECK(r.status == 200);
  CHECK_FALSE(r.complete);
  CHECK(r.peer_closed);
  CHECK(r.body_bytes <= 5000);
  auto line = waitForFailure(p.daemon, "truncated_response");
  REQUIRE(line.has_value());
  CHECK(jsonField(*line, "class") == "crash");
  CHECK(jsonField(*line, "origin") == "upstream");
  CHECK(jsonField(*line, "phase") == "stream_body");
}

TEST_CASE("an upstream closing inside a chunked body never sends the client a last chunk",
          "[integration][timeouts]") {
  Proxied p;
  HttpClient client(p.daemon.port());
  Response r = client.get("/?action=close_mid_body&size=100000&after=5000&chunked=1");
  INFO("body_bytes " << r.body_bytes << " peer_closed " << r.peer_closed << " malformed "
                     << r.malformed);
  CHECK(r.status == 200);
  CHECK(r.chunked);
  CHECK_FALSE(r.complete);  // a terminating 0-chunk would make it look complete
  CHECK(r.peer_closed);
  CHECK(r.body_bytes <= 5000);
  CHECK(waitForFailure(p.daemon, "truncated_response").has_value());
}

TEST_CASE("an idle keep-alive client connection is closed after client_idle_timeout",
          "[integration][timeouts]") {
  Proxied p("", "client_idle_timeout = \"300ms\"");
  HttpClient client(p.daemon.port());
  REQUIRE(client.get("/?body=hi").status == 200);
  auto start = Clock::now();
  CHECK(client.waitForClose(2s));
  CHECK(Clock::now() - start >= 200ms);  // kept open while within the timeout
  // The daemon still accepts new clients.
  HttpClient next(p.daemon.port());
  CHECK(next.get("/?body=again").status == 200);
}

TEST_CASE("a daemon with workers = 2 says so and serves every request", "[integration][timeouts]") {
  Proxied p("", "workers = 2");
  auto listening = p.daemon.logLinesContaining("\"event\":\"listening\"");
  REQUIRE(listening.size() == 1);
  CHECK(jsonField(listening.front(), "workers") == "2");
  for (int i = 0; i < 20; ++i) {
    HttpClient client(p.daemon.port());
    Response r = client.get("/?body=w" + std::to_string(i));
    INFO("request " << i);
    REQUIRE(r.status == 200);
    CHECK(r.body == std::string("w").append(std::to_string(i)));
  }
  CHECK(p.fake.stats().requests == 20);
  CHECK(p.daemon.logLinesContaining("\"event\":\"upstream_failure\"").empty());
}

}  // namespace triaged::test
