// The harness and the scripted fake upstream, checked directly (no triaged in the path): every
// scripted behaviour must be observable from the client side exactly as the proxy tests assume.

#include <catch2/catch.hpp>
#include <chrono>
#include <csignal>
#include <string>

#include "harness/daemon_process.h"
#include "harness/fake_upstream.h"
#include "harness/http_client.h"
#include "harness/test_support.h"

namespace triaged::test {
namespace {

using Clock = std::chrono::steady_clock;

}  // namespace

TEST_CASE("fake upstream answers the scripted status, reason and headers",
          "[integration][harness]") {
  FakeUpstream fake;
  HttpClient client(fake.port());
  Response r = client.get("/any/path?status=201&reason=Made+It&header=X-Extra:a%20b");
  CHECK(r.status == 201);
  CHECK(r.reason == "Made It");
  CHECK(r.version == "HTTP/1.1");
  CHECK(r.header("x-extra") == "a b");
  CHECK(r.header("Content-Length") == "3");
  CHECK(r.body == "ok\n");
  CHECK(r.complete);
  CHECK_FALSE(r.peer_closed);
}

TEST_CASE("fake upstream streams a generated body of the requested size",
          "[integration][harness]") {
  FakeUpstream fake;
  HttpClient client(fake.port());
  Response r = client.get("/?size=100000");
  REQUIRE(r.status == 200);
  CHECK(r.header("Content-Length") == "100000");
  CHECK(r.complete);
  CHECK(describeDifference(r.body, patternBody(100000)) == "");
}

TEST_CASE("fake upstream sends the exact body text it is given", "[integration][harness]") {
  FakeUpstream fake;
  HttpClient client(fake.port());
  Response r = client.get("/?status=502&body=upstream+says+no&header=Server:nginx");
  CHECK(r.status == 502);
  CHECK(r.body == "upstream says no");
  CHECK(r.header("Server") == "nginx");
}

TEST_CASE("fake upstream sends a chunked body with trailers", "[integration][harness]") {
  FakeUpstream fake;
  HttpClient client(fake.port());
  Response r = client.get("/?size=40000&chunked=1&trailer=X-Checksum:abc123");
  REQUIRE(r.status == 200);
  CHECK(r.chunked);
  CHECK_FALSE(r.hasHeader("Content-Length"));
  CHECK(r.complete);
  CHECK(describeDifference(r.body, patternBody(40000)) == "");
  CHECK(findHeader(r.trailers, "X-Checksum") == "abc123");
}

TEST_CASE("fake upstream frames a close-delimited body by closing the connection",
          "[integration][harness]") {
  FakeUpstream fake;
  HttpClient client(fake.port());
  Response r = client.get("/?size=5000&close_delimited=1");
  REQUIRE(r.status == 200);
  CHECK_FALSE(r.hasHeader("Content-Length"));
  CHECK_FALSE(r.hasHeader("Transfer-Encoding"));
  CHECK(r.complete);
  CHECK(r.peer_closed);
  CHECK_FALSE(r.peer_reset);
  CHECK(r.body_bytes == 5000);
}

TEST_CASE("fake upstream answers HEAD with the length and no body", "[integration][harness]") {
  FakeUpstream fake;
  HttpClient client(fake.port());
  Response head = client.request("HEAD", "/?size=1234");
  CHECK(head.status == 200);
  CHECK(head.header("Content-Length") == "1234");
  CHECK(head.body.empty());
  // The connection is still in sync: the next response is read correctly.
  Response next = client.get("/?status=202");
  CHECK(next.status == 202);
  CHECK(next.body == "ok\n");
}

TEST_CASE("/echo reports method, target, headers and the body checksum", "[integration][harness]") {
  FakeUpstream fake;
  HttpClient client(fake.port());
  Response r = client.request("POST", "/echo?x=1", {{"X-Test", "Value 1"}}, "hello");
  REQUIRE(r.status == 200);
  CHECK(r.header("Content-Type") == "text/plain");
  CHECK(contains(r.body, "method POST\n"));
  CHECK(contains(r.body, "target /echo?x=1\n"));
  CHECK(contains(r.body, "version HTTP/1.1\n"));
  CHECK(contains(r.body, "header Host: " + client.hostHeader() + "\n"));
  CHECK(contains(r.body, "header X-Test: Value 1\n"));
  CHECK(contains(r.body, "header Content-Length: 5\n"));
  CHECK(contains(r.body, "body_bytes 5\n"));
  CHECK(contains(r.body, "body_fnv1a " + fnv1aHex("hello") + "\n"));
  CHECK(fnv1aHex("hello") == "a430d84680aabd0b");  // the FNV-1a 64 reference value
  CHECK(contains(r.body, "body_framing length\n"));
}

TEST_CASE("/echo decodes a chunked request body and its trailers", "[integration][harness]") {
  FakeUpstream fake;
  HttpClient client(fake.port());
  Response r = client.rawRequest(
      "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
      "3\r\nhel\r\n2;ext=1\r\nlo\r\n0\r\nX-Trailer: t1\r\n\r\n");
  REQUIRE(r.status == 200);
  CHECK(contains(r.body, "body_bytes 5\n"));
  CHECK(contains(r.body, "body_fnv1a " + fnv1aHex("hello") + "\n"));
  CHECK(contains(r.body, "body_framing chunked\n"));
  CHECK(contains(r.body, "trailer X-Trailer: t1\n"));
}

TEST_CASE("keep-alive: three requests use one upstream connection", "[integration][harness]") {
  FakeUpstream fake;
  HttpClient client(fake.port());
  for (int i = 0; i < 3; ++i) {
    Response r = client.get("/?size=10");
    REQUIRE(r.status == 200);
    REQUIRE(r.complete);
  }
  UpstreamStats s = fake.stats();
  CHECK(s.connections == 1);
  CHECK(s.requests == 3);
  CHECK(s.open == 1);
  client.close();
  CHECK(fake.waitForOpen(0).open == 0);
}

TEST_CASE("fake upstream answers pipelined requests in order", "[integration][harness]") {
  FakeUpstream fake;
  HttpClient client(fake.port());
  REQUIRE(
      client.send("GET /?status=201 HTTP/1.1\r\nHost: x\r\n\r\n"
                  "GET /?status=202&delay_headers=50 HTTP/1.1\r\nHost: x\r\n\r\n"
                  "POST /echo?status=203 HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc"));
  Response a = client.readResponse();
  Response b = client.readResponse();
  Response c = client.readResponse();
  CHECK(a.status == 201);
  CHECK(b.status == 202);
  CHECK(c.status == 203);
  CHECK(contains(c.body, "body_bytes 3\n"));
  CHECK(fake.stats().connections == 1);
}

TEST_CASE("an idle keep-alive connection is closed after --keepalive-timeout",
          "[integration][harness]") {
  FakeUpstream fake({"--keepalive-timeout", "200"});
  HttpClient client(fake.port());
  REQUIRE(client.get("/").status == 200);
  auto start = Clock::now();
  CHECK(client.waitForClose(5s));
  CHECK_FALSE(client.peerReset());
  CHECK(Clock::now() - start >= 150ms);
}

TEST_CASE("Connection: close from the client closes after the response", "[integration][harness]") {
  FakeUpstream fake;
  HttpClient client(fake.port());
  Response r = client.get("/", {{"Connection", "close"}});
  CHECK(r.status == 200);
  CHECK(r.header("Connection") == "close");
  CHECK(client.waitForClose(5s));
}

TEST_CASE("close=1 announces Connection: close and closes", "[integration][harness]") {
  FakeUpstream fake;
  HttpClient client(fake.port());
  Response r = client.get("/?close=1");
  CHECK(r.status == 200);
  CHECK(r.header("Connection") == "close");
  CHECK(client.waitForClose(5s));
}

TEST_CASE("delay_headers holds the response head back", "[integration][harness]") {
  FakeUpstream fake;
  HttpClient client(fake.port());
  auto start = Clock::now();
  Response r = client.get("/?delay_headers=300");
  CHECK(r.status == 200);
  CHECK(Clock::now() - start >= 300ms);
}

TEST_CASE("chunk_delay paces the body pieces", "[integration][harness]") {
  FakeUpstream fake;
  HttpClient client(fake.port());
  auto start = Clock::now();
  Response r = client.get("/?size=40000&chunk_delay=100");  // 3 pieces, 2 pauses
  CHECK(r.complete);
  CHECK(r.body_bytes == 40000);
  CHECK(Clock::now() - start >= 200ms);
}

TEST_CASE("action=close_before_headers closes with FIN and no byte", "[integration][harness]") {
  FakeUpstream fake;
  HttpClient client(fake.port());
  Response r = client.get("/?action=close_before_headers");
  CHECK(r.status == 0);
  CHECK(r.raw_head.empty());
  CHECK(r.peer_closed);
  CHECK_FALSE(r.peer_reset);
  CHECK_FALSE(r.timed_out);
}

TEST_CASE("action=reset_before_headers resets with no byte", "[integration][harness]") {
  FakeUpstream fake;
  HttpClient client(fake.port());
  Response r = client.get("/?action=reset_before_headers");
  CHECK(r.status == 0);
  CHECK(r.raw_head.empty());
  CHECK(r.peer_closed);
  CHECK(r.peer_reset);
}

TEST_CASE("action=partial_headers sends half a head then FIN", "[integration][harness]") {
  FakeUpstream fake;
  HttpClient client(fake.port());
  Response r = client.get("/?action=partial_headers");
  CHECK(r.status == 0);
  CHECK(r.raw_head == "HTTP/1.1 200 OK\r\nContent-Le");
  CHECK(r.peer_closed);
  CHECK_FALSE(r.peer_reset);
}

TEST_CASE("action=close_mid_body cuts the announced body with FIN", "[integration][harness]") {
  FakeUpstream fake;
  HttpClient client(fake.port());
  Response r = client.get("/?action=close_mid_body&size=100000&after=1000");
  CHECK(r.status == 200);
  CHECK(r.header("Content-Length") == "100000");
  CHECK(r.body_bytes == 1000);
  CHECK_FALSE(r.complete);
  CHECK(r.peer_closed);
  CHECK_FALSE(r.peer_reset);
}

TEST_CASE("action=close_mid_body with chunked=1 never sends the last chunk",
          "[integration][harness]") {
  FakeUpstream fake;
  HttpClient client(fake.port());
  Response r = client.get("/?action=close_mid_body&size=100000&after=20000&chunked=1");
  CHECK(r.status == 200);
  CHECK(r.chunked);
  CHECK(r.body_bytes == 20000);
  CHECK_FALSE(r.complete);
  CHECK(r.peer_closed);
}

TEST_CASE("action=reset_mid_body cuts the announced body with RST", "[integration][harness]") {
  FakeUpstream fake;
  HttpClient client(fake.port());
  Response r = client.get("/?action=reset_mid_body&size=100000&after=1000");
  CHECK(r.status == 200);
  CHECK(r.body_bytes <= 1000);
  CHECK_FALSE(r.complete);
  CHECK(r.peer_closed);
  CHECK(r.peer_reset);
}

TEST_CASE("action=stall_body sends part of the body then goes silent", "[integration][harness]") {
  FakeUpstream fake;
  HttpClient client(fake.port());
  Response r = client.get("/?action=stall_body&size=100000&after=500", {}, withTimeout(300ms));
  CHECK(r.status == 200);
  CHECK(r.body_bytes == 500);
  CHECK_FALSE(r.complete);
  CHECK(r.timed_out);
  CHECK_FALSE(r.peer_closed);
}

TEST_CASE("action=hang reads the request and never answers", "[integration][harness]") {
  FakeUpstream fake;
  HttpClient client(fake.port());
  Response r = client.get("/?action=hang", {}, withTimeout(300ms));
  CHECK(r.status == 0);
  CHECK(r.timed_out);
  CHECK_FALSE(r.peer_closed);
  CHECK(fake.stats().open == 1);
  client.close();  // the fake lets go of a hung connection once the peer leaves
  CHECK(fake.waitForOpen(0).open == 0);
}

TEST_CASE("action=garbage sends a non-HTTP line then closes", "[integration][harness]") {
  FakeUpstream fake;
  HttpClient client(fake.port());
  Response r = client.get("/?action=garbage");
  CHECK(r.status == 0);
  CHECK(r.malformed);
  CHECK(r.raw_head == "NOT-HTTP garbage\r\n\r\n");
  CHECK(client.waitForClose(5s));
}

TEST_CASE("action=bad_content_length sends an unparseable Content-Length",
          "[integration][harness]") {
  FakeUpstream fake;
  HttpClient client(fake.port());
  Response r = client.get("/?action=bad_content_length");
  CHECK(r.status == 200);
  CHECK(r.malformed);
  CHECK(contains(r.raw_head, "\r\nContent-Length: abc\r\n"));
}

TEST_CASE("action=huge_headers sends a head of the requested size", "[integration][harness]") {
  FakeUpstream fake;
  HttpClient client(fake.port());
  Response r = client.get("/?action=huge_headers&after=70000");
  CHECK(r.status == 200);
  CHECK(r.raw_head.size() > 70000);
  CHECK(r.complete);
  CHECK(r.body == "ok\n");
}

TEST_CASE("action=close_after_response closes an unannounced keep-alive connection with FIN",
          "[integration][harness]") {
  FakeUpstream fake;
  HttpClient client(fake.port());
  Response r = client.get("/?action=close_after_response");
  CHECK(r.status == 200);
  CHECK(r.complete);
  CHECK_FALSE(r.hasHeader("Connection"));
  CHECK(client.waitForClose(5s));
  CHECK_FALSE(client.peerReset());
}

TEST_CASE("action=reset_after_response resets after a complete response",
          "[integration][harness]") {
  FakeUpstream fake;
  HttpClient client(fake.port());
  Response r = client.get("/?action=reset_after_response");
  CHECK(r.status == 200);
  CHECK(r.complete);
  CHECK(client.waitForClose(5s));
  CHECK(client.peerReset());
}

TEST_CASE("Expect: 100-continue gets 100 Continue before the body is read",
          "[integration][harness]") {
  FakeUpstream fake;
  HttpClient client(fake.port());
  REQUIRE(client.send(
      "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n"));
  HttpClient::Options interim;
  interim.return_interim = true;
  Response cont = client.readResponse(interim);
  REQUIRE(cont.status == 100);
  REQUIRE(client.send("hello"));
  Response r = client.readResponse();
  CHECK(r.status == 200);
  CHECK(contains(r.body, "body_bytes 5\n"));
}

TEST_CASE("no_continue=1 ignores Expect: 100-continue", "[integration][harness]") {
  FakeUpstream fake;
  HttpClient client(fake.port());
  REQUIRE(
      client.send("POST /echo?no_continue=1 HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
                  "Expect: 100-continue\r\n\r\n"));
  HttpClient::Options interim = withTimeout(300ms);
  interim.return_interim = true;
  Response none = client.readResponse(interim);
  CHECK(none.status == 0);
  CHECK(none.timed_out);
  REQUIRE(client.send("hello"));
  Response r = client.readResponse();
  CHECK(r.status == 200);
  CHECK(contains(r.body, "body_bytes 5\n"));
}

TEST_CASE("early_response answers before the body and closes", "[integration][harness]") {
  FakeUpstream fake;
  HttpClient client(fake.port());
  REQUIRE(client.send(
      "POST /?early_response=1&status=413 HTTP/1.1\r\nHost: x\r\nContent-Length: 100000000\r\n\r\n"
      "partial"));
  Response r = client.readResponse();
  CHECK(r.status == 413);
  CHECK(r.header("Connection") == "close");
  CHECK(client.waitForClose(5s));
}

TEST_CASE("/ws upgrades with 101 and echoes bytes both ways", "[integration][harness]") {
  FakeUpstream fake;
  HttpClient client(fake.port());
  Response r = client.get("/ws", {{"Upgrade", "websocket"}, {"Connection", "Upgrade"}});
  REQUIRE(r.status == 101);
  CHECK(r.header("Upgrade") == "websocket");
  REQUIRE(client.send("ping-1"));
  CHECK(client.readBytes(6) == "ping-1");
  std::string big = patternBody(300000);
  REQUIRE(client.send(big));
  CHECK(describeDifference(client.readBytes(big.size()).value_or(""), big) == "");
}

TEST_CASE("a malformed request gets 400 and the connection is closed", "[integration][harness]") {
  FakeUpstream fake;
  HttpClient client(fake.port());
  Response r = client.rawRequest(
      "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n");
  CHECK(r.status == 400);
  CHECK(client.waitForClose(5s));
}

TEST_CASE("an unknown action is refused with 400 naming it", "[integration][harness]") {
  FakeUpstream fake;
  HttpClient client(fake.port());
  Response r = client.get("/?action=explode");
  CHECK(r.status == 400);
  CHECK(contains(r.body, "explode"));
}

TEST_CASE("/__stats counts connections, requests and open connections", "[integration][harness]") {
  FakeUpstream fake;
  {
    HttpClient a(fake.port());
    HttpClient b(fake.port());
    REQUIRE(a.get("/").status == 200);
    REQUIRE(b.get("/").status == 200);
    REQUIRE(a.get("/").status == 200);
    UpstreamStats s = fake.stats();
    CHECK(s.connections == 2);
    CHECK(s.requests == 3);
    CHECK(s.open == 2);
  }
  UpstreamStats s = fake.waitForOpen(0);
  CHECK(s.open == 0);
  CHECK(s.connections == 2);
}

TEST_CASE("the fake upstream listens on IPv6 loopback", "[integration][harness]") {
  FakeUpstream fake({}, "[::1]:0");
  CHECK(fake.address() == "[::1]:" + std::to_string(fake.port()));
  HttpClient client(fake.port(), "::1");
  CHECK(client.get("/?status=204").status == 204);
}

TEST_CASE("the fake upstream exits 0 on SIGTERM", "[integration][harness]") {
  FakeUpstream fake;
  HttpClient client(fake.port());
  REQUIRE(client.get("/").status == 200);
  CHECK(fake.stop() == 0);
}

TEST_CASE("a 64 MiB upload is counted and checksummed", "[integration][harness]") {
  constexpr uint64_t kBytes = 64ULL << 20;
  FakeUpstream fake;
  HttpClient client(fake.port());
  REQUIRE(client.send(
      "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: " + std::to_string(kBytes) + "\r\n\r\n"));
  REQUIRE(client.sendStreamingBody(kBytes, false));
  Response r = client.readResponse(withTimeout(60s));
  REQUIRE(r.status == 200);
  CHECK(contains(r.body, "body_bytes " + std::to_string(kBytes) + "\n"));
  CHECK(contains(r.body, "body_fnv1a " + patternFnv1aHex(kBytes) + "\n"));
}

TEST_CASE("a chunked streaming upload is counted", "[integration][harness]") {
  constexpr uint64_t kBytes = 5'000'000;
  FakeUpstream fake;
  HttpClient client(fake.port());
  REQUIRE(client.send("POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"));
  REQUIRE(client.sendStreamingBody(kBytes, true));
  Response r = client.readResponse(withTimeout(60s));
  REQUIRE(r.status == 200);
  CHECK(contains(r.body, "body_bytes " + std::to_string(kBytes) + "\n"));
  CHECK(contains(r.body, "body_fnv1a " + patternFnv1aHex(kBytes) + "\n"));
}

TEST_CASE("a 256 MiB download streams without being stored", "[integration][harness]") {
  constexpr uint64_t kBytes = 256ULL << 20;
  FakeUpstream fake;
  HttpClient client(fake.port());
  REQUIRE(client.send("GET /?size=" + std::to_string(kBytes) + " HTTP/1.1\r\nHost: x\r\n\r\n"));
  Response r = client.readResponseDiscardingBody(withTimeout(60s));
  CHECK(r.status == 200);
  CHECK(r.complete);
  CHECK(r.body_bytes == kBytes);
  CHECK(r.body.empty());
  CHECK(fake.process().rssKb() < 64 * 1024);  // the fake streams too
}

TEST_CASE("jsonField reads strings, numbers and escaped quotes", "[integration][harness]") {
  std::string line = R"({"event":"listening","listen":"127.0.0.1:8080","n":42,"ok":true,)"
                     R"("msg":"say \"hi\"","nested":{"admin":"127.0.0.1:9901"}})";
  CHECK(jsonField(line, "event") == "listening");
  CHECK(jsonField(line, "listen") == "127.0.0.1:8080");
  CHECK(jsonField(line, "n") == "42");
  CHECK(jsonField(line, "ok") == "true");
  CHECK(jsonField(line, "msg") == "say \"hi\"");
  CHECK(jsonField(line, "admin") == "127.0.0.1:9901");
  CHECK_FALSE(jsonField(line, "hi").has_value());
  CHECK_FALSE(jsonField(line, "missing").has_value());
}

TEST_CASE("Process captures output and reports the exit code", "[integration][harness]") {
  Process p("sh", {"/bin/sh", "-c", "echo one; echo two >&2; exit 3"});
  CHECK(p.waitForLine("two", 5s) == "two");
  CHECK(p.waitExit(5s) == 3);
  CHECK(p.linesContaining("one").size() == 1);
}

TEST_CASE("Process reports death by signal as 128 + signal", "[integration][harness]") {
  Process p("sleeper", {"/bin/sh", "-c", "echo ready; exec sleep 60"});
  REQUIRE(p.waitForLine("ready", 5s));
  CHECK(p.rssKb() > 0);
  CHECK_FALSE(p.waitExit(50ms).has_value());
  p.signal(SIGTERM);
  CHECK(p.waitExit(5s) == 128 + SIGTERM);
}

}  // namespace triaged::test
