// Requests that could desynchronise triaged and its upstream (request smuggling) or that break
// the configured limits: each is answered by triaged itself, the client connection is closed,
// and nothing reaches the upstream.

#include <catch2/catch.hpp>
#include <string>

#include "harness/daemon_process.h"
#include "harness/fake_upstream.h"
#include "harness/http_client.h"
#include "harness/proxied.h"

namespace triaged::test {
namespace {

// Sends `raw` on a fresh connection and checks that triaged answers `status` itself, closes the
// connection, and that a well-formed request sent afterwards is the only one the upstream saw.
void expectRefusedLocally(Proxied& p, const std::string& raw, int status,
                          const std::string& cause) {
  HttpClient client(p.daemon.port());
  INFO("request: " << raw);
  Response r = client.rawRequest(raw);
  INFO("response head: '" << r.raw_head << "' peer_closed " << r.peer_closed << " peer_reset "
                          << r.peer_reset << " timed_out " << r.timed_out);
  CHECK(r.status == status);
  CHECK(r.header("X-Triaged-Cause") == cause);
  CHECK(r.hasHeader("X-Request-Id"));
  CHECK(client.waitForClose(5s));

  HttpClient sane(p.daemon.port());
  REQUIRE(sane.get("/?body=sane").status == 200);
  UpstreamStats s = p.fake.stats();
  CHECK(s.requests == 1);
}

void expectBadRequest(const std::string& raw) {
  Proxied p;
  expectRefusedLocally(p, raw, 400, "client_bad_request");
}

}  // namespace

TEST_CASE("Content-Length together with Transfer-Encoding is refused with 400",
          "[integration][smuggling]") {
  expectBadRequest(
      "POST / HTTP/1.1\r\nHost: app\r\nContent-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n"
      "0\r\n\r\nG");
}

TEST_CASE("two different Content-Length headers are refused with 400", "[integration][smuggling]") {
  expectBadRequest(
      "POST / HTTP/1.1\r\nHost: app\r\nContent-Length: 4\r\nContent-Length: 5\r\n\r\nabcde");
}

TEST_CASE("a Content-Length with letters is refused with 400", "[integration][smuggling]") {
  expectBadRequest("POST / HTTP/1.1\r\nHost: app\r\nContent-Length: 4a\r\n\r\nabcd");
}

TEST_CASE("an invalid chunk size is refused with 400", "[integration][smuggling]") {
  expectBadRequest(
      "POST / HTTP/1.1\r\nHost: app\r\nTransfer-Encoding: chunked\r\n\r\n"
      "zz\r\nabcd\r\n0\r\n\r\n");
}

TEST_CASE("an obs-fold header continuation is refused with 400", "[integration][smuggling]") {
  expectBadRequest("GET / HTTP/1.1\r\nHost: app\r\nX-Folded: a\r\n  b\r\n\r\n");
}

TEST_CASE("a bare CR inside a header is refused with 400", "[integration][smuggling]") {
  expectBadRequest("GET / HTTP/1.1\r\nHost: app\r\nX-Bad: a\rb\r\n\r\n");
}

TEST_CASE("an HTTP/1.1 request without Host is refused with 400", "[integration][smuggling]") {
  expectBadRequest("GET / HTTP/1.1\r\nX-Nothing: 1\r\n\r\n");
}

TEST_CASE("a Host with userinfo is refused with 400", "[integration][smuggling]") {
  // RFC 9112 3.2: Host is uri-host[:port]; "user@up" is not, and upstreams disagree on it.
  expectBadRequest("GET / HTTP/1.1\r\nHost: user@app\r\n\r\n");
}

TEST_CASE("Transfer-Encoding: chunked, identity is refused with 400", "[integration][smuggling]") {
  expectBadRequest(
      "POST / HTTP/1.1\r\nHost: app\r\nTransfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n");
}

TEST_CASE("a request head over max_request_header_bytes is refused with 431",
          "[integration][smuggling]") {
  Proxied p("", "max_request_header_bytes = 2048");
  std::string raw = "GET / HTTP/1.1\r\nHost: app\r\nX-Big: " + std::string(3000, 'a') + "\r\n\r\n";
  expectRefusedLocally(p, raw, 431, "client_bad_request");
}

TEST_CASE("a request body over max_request_body_bytes is refused with 413",
          "[integration][smuggling]") {
  Proxied p("", "max_request_body_bytes = 1000");
  std::string raw =
      "POST / HTTP/1.1\r\nHost: app\r\nContent-Length: 2000\r\n\r\n" + std::string(2000, 'b');
  expectRefusedLocally(p, raw, 413, "client_bad_request");
}

TEST_CASE("a request head not finished within client_header_timeout gets 408",
          "[integration][smuggling]") {
  Proxied p("", "client_header_timeout = \"300ms\"");
  HttpClient client(p.daemon.port());
  REQUIRE(client.send("GET / HTTP/1.1\r\nHost: app\r\nX-Partial: "));
  HttpClient::Options options;
  options.timeout = 5s;
  Response r = client.readResponse(options);
  CHECK(r.status == 408);
  CHECK(r.header("X-Triaged-Cause") == "client_timeout");
  CHECK(client.waitForClose(5s));
  CHECK(p.fake.stats().requests == 0);
}

}  // namespace triaged::test
