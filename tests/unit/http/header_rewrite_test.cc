#include "triaged/http/header_rewrite.h"

#include <catch2/catch.hpp>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "triaged/http/message_parser.h"

namespace triaged::http {
namespace {

// Heads are views: every string passed here is a literal, which outlives the test.
RequestHead makeRequest(std::string_view method, std::string_view target, Headers headers) {
  RequestHead r;
  r.method = method;
  r.target = target;
  r.path = target;
  r.headers = std::move(headers);
  // What the parser derives for an origin-form target.
  if (const Header* host = findHeader(r.headers, "Host")) r.authority = host->value;
  return r;
}

ResponseHead makeResponse(int status, std::string_view reason, Headers headers, BodyFraming framing,
                          uint64_t content_length = 0) {
  ResponseHead r;
  r.status = status;
  r.reason = reason;
  r.headers = std::move(headers);
  r.framing = framing;
  r.content_length = content_length;
  return r;
}

constexpr ForwardContext kCtx{"10.0.0.1", "rid-1", "backend.internal", {}};

std::string upstreamHead(const RequestHead& request, const ForwardContext& ctx) {
  std::string out = "left over from an earlier head";  // the builder starts from empty
  buildUpstreamRequestHead(out, request, ctx);
  return out;
}

std::string clientHead(const ResponseHead& response, const ResponsePlan& plan,
                       std::string_view request_id) {
  std::string out = "left over from an earlier head";
  buildClientResponseHead(out, response, plan, request_id);
  return out;
}

class NullCallbacks : public ParserCallbacks {
 public:
  void onHead() override {}
  void onBody(const char*, size_t) override {}
  void onMessageComplete(const Headers&) override {}
};

}  // namespace

TEST_CASE("hop-by-hop headers, including names listed in Connection", "[unit][http]") {
  const Headers headers = {{"Connection", "keep-alive, X-Secret"}, {"connection", " x-other "}};
  for (const char* name : {"Connection", "keep-alive", "Proxy-Connection", "te",
                           "Transfer-Encoding", "UPGRADE", "X-Secret", "x-secret", "X-Other"}) {
    INFO(name);
    CHECK(isHopByHop(name, headers));
  }
  for (const char* name : {"Trailer", "Host", "Content-Length", "X-Secrets", "Accept"}) {
    INFO(name);
    CHECK_FALSE(isHopByHop(name, headers));
  }
  CHECK_FALSE(isHopByHop("X-Secret", {}));
}

TEST_CASE("message helpers", "[unit][http]") {
  CHECK(equalsIgnoreCase("Content-Length", "content-LENGTH"));
  CHECK_FALSE(equalsIgnoreCase("Host", "Hosts"));
  const Headers h = {{"Accept", "a"}, {"accept", "b"}};
  REQUIRE(findHeader(h, "ACCEPT") != nullptr);
  CHECK(findHeader(h, "ACCEPT")->value == "a");
  CHECK(findHeader(h, "Host") == nullptr);
  const Headers c = {{"Connection", "Upgrade"}, {"Connection", "close,  keep-alive ,"}};
  CHECK(headerHasToken(c, "connection", "upgrade"));
  CHECK(headerHasToken(c, "Connection", "Keep-Alive"));
  CHECK(headerHasToken(c, "Connection", "close"));
  CHECK_FALSE(headerHasToken(c, "Connection", "keep"));
  CHECK_FALSE(headerHasToken(c, "Upgrade", "close"));
}

TEST_CASE("upstream request head: exact bytes", "[unit][http]") {
  const RequestHead req = makeRequest("GET", "/p?q=1",
                                      {
                                          {"Host", "example.com"},
                                          {"User-Agent", "t/1"},
                                          {"Connection", "keep-alive, X-Secret"},
                                          {"X-Secret", "s"},
                                          {"Keep-Alive", "timeout=5"},
                                          {"TE", "trailers"},
                                          {"Proxy-Connection", "keep-alive"},
                                          {"X-Forwarded-For", "1.1.1.1"},
                                          {"Accept", "*/*"},
                                          {"X-Forwarded-For", "2.2.2.2, 3.3.3.3"},
                                          {"X-Forwarded-Proto", "https"},
                                          {"X-Forwarded-Host", "evil.example"},
                                          {"X-Request-Id", "client-chosen"},
                                      });
  CHECK(upstreamHead(req, kCtx) ==
        "GET /p?q=1 HTTP/1.1\r\n"
        "Host: example.com\r\n"
        "User-Agent: t/1\r\n"
        "Accept: */*\r\n"
        "X-Forwarded-For: 1.1.1.1, 2.2.2.2, 3.3.3.3, 10.0.0.1\r\n"
        "X-Forwarded-Proto: http\r\n"
        "X-Forwarded-Host: example.com\r\n"
        "X-Request-Id: rid-1\r\n"
        "\r\n");
}

TEST_CASE("upstream request head: X-Forwarded-For, Host and request id", "[unit][http]") {
  SECTION("no X-Forwarded-For: just the client") {
    const auto head = upstreamHead(makeRequest("GET", "/", {{"Host", "a"}}), kCtx);
    CHECK(head.find("X-Forwarded-For: 10.0.0.1\r\n") != std::string::npos);
    CHECK(head.find("X-Request-Id: rid-1\r\n") != std::string::npos);
  }
  SECTION("HTTP/1.0 without Host gets the default and no X-Forwarded-Host") {
    RequestHead req = makeRequest("GET", "/", {});
    req.version_minor = 0;
    req.keep_alive = false;
    const auto head = upstreamHead(req, kCtx);
    CHECK(head.rfind("GET / HTTP/1.1\r\nHost: backend.internal\r\n", 0) == 0);
    CHECK(head.find("X-Forwarded-Host") == std::string::npos);
    CHECK(head.find("Connection") == std::string::npos);
  }
  SECTION("Connection cannot strip Host") {
    const auto head = upstreamHead(
        makeRequest("GET", "/", {{"Host", "a"}, {"Connection", "Host, X-Forwarded-For"}}), kCtx);
    CHECK(head.find("Host: a\r\n") != std::string::npos);
    CHECK(head.find("X-Forwarded-For: 10.0.0.1\r\n") != std::string::npos);
  }
  SECTION("exactly one X-Request-Id line") {
    const auto head = upstreamHead(
        makeRequest("GET", "/", {{"Host", "a"}, {"x-request-id", "1"}, {"X-Request-Id", "2"}}),
        kCtx);
    CHECK(head.find("X-Request-Id: rid-1\r\n") != std::string::npos);
    CHECK(head.find("x-request-id") == std::string::npos);
    CHECK(head.find(": 1\r\n") == std::string::npos);
  }
  SECTION("Expect and end-to-end headers are kept") {
    RequestHead req = makeRequest(
        "PUT", "/f", {{"Host", "a"}, {"Expect", "100-continue"}, {"Content-Length", "4"}});
    req.framing = BodyFraming::ContentLength;
    req.content_length = 4;
    req.expect_continue = true;
    const auto head = upstreamHead(req, kCtx);
    CHECK(head.find("Expect: 100-continue\r\n") != std::string::npos);
    CHECK(head.find("Content-Length: 4\r\n") != std::string::npos);
    CHECK(head.find("Content-Length", head.find("Content-Length") + 1) == std::string::npos);
  }
}

TEST_CASE("upstream request head: body framing", "[unit][http]") {
  struct Case {
    const char* method;
    BodyFraming framing;
    uint64_t length;
    const char* expect_present;  // nullptr: neither Content-Length nor Transfer-Encoding
  };
  const std::vector<Case> cases = {
      {"POST", BodyFraming::ContentLength, 12, "Content-Length: 12\r\n"},
      {"POST", BodyFraming::ContentLength, 0, "Content-Length: 0\r\n"},
      {"POST", BodyFraming::Chunked, 0, "Transfer-Encoding: chunked\r\n"},
      {"POST", BodyFraming::None, 0, "Content-Length: 0\r\n"},
      {"PUT", BodyFraming::None, 0, "Content-Length: 0\r\n"},
      {"PATCH", BodyFraming::None, 0, "Content-Length: 0\r\n"},
      {"GET", BodyFraming::None, 0, nullptr},
      {"DELETE", BodyFraming::None, 0, nullptr},
      {"GET", BodyFraming::Chunked, 0, "Transfer-Encoding: chunked\r\n"},
  };
  for (const Case& c : cases) {
    INFO(c.method << " framing " << static_cast<int>(c.framing));
    RequestHead req = makeRequest(c.method, "/", {{"Host", "a"}, {"Content-Length", "999"}});
    req.framing = c.framing;
    req.content_length = c.length;
    if (c.framing == BodyFraming::Chunked)
      req.headers = {{"Host", "a"}, {"Transfer-Encoding", "chunked"}};
    const auto head = upstreamHead(req, kCtx);
    CHECK(head.find("999") == std::string::npos);
    if (c.expect_present == nullptr) {
      CHECK(head.find("Content-Length") == std::string::npos);
      CHECK(head.find("Transfer-Encoding") == std::string::npos);
    } else {
      CHECK(head.find(c.expect_present) != std::string::npos);
      const bool chunked = c.framing == BodyFraming::Chunked;
      CHECK((head.find("Content-Length") == std::string::npos) == chunked);
      CHECK((head.find("Transfer-Encoding") == std::string::npos) == !chunked);
    }
  }
}

TEST_CASE("upstream request head: upgrade keeps Upgrade and Connection: upgrade", "[unit][http]") {
  RequestHead req = makeRequest("GET", "/ws",
                                {{"Host", "a"},
                                 {"Connection", "Upgrade"},
                                 {"Upgrade", "websocket"},
                                 {"Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="}});
  req.upgrade = true;
  const auto head = upstreamHead(req, kCtx);
  CHECK(head ==
        "GET /ws HTTP/1.1\r\nHost: a\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
        "Upgrade: websocket\r\nConnection: upgrade\r\nX-Forwarded-For: 10.0.0.1\r\n"
        "X-Forwarded-Proto: http\r\nX-Forwarded-Host: a\r\nX-Request-Id: rid-1\r\n\r\n");
}

TEST_CASE("upstream request head parses back with the strict parser", "[unit][http]") {
  NullCallbacks cb;
  MessageParser in(MessageParser::Type::Request, cb, 8192);
  const std::string client =
      "POST /x HTTP/1.1\r\nHost: a\r\nConnection: keep-alive\r\nTransfer-Encoding: chunked\r\n"
      "X-Forwarded-For: 1.2.3.4\r\n\r\n0\r\n\r\n";
  REQUIRE(in.feed(client.data(), client.size()).status == MessageParser::Status::MessageComplete);
  const std::string upstream = upstreamHead(in.request(), kCtx) + "0\r\n\r\n";
  MessageParser out(MessageParser::Type::Request, cb, 8192);
  CHECK(out.feed(upstream.data(), upstream.size()).status ==
        MessageParser::Status::MessageComplete);
  CHECK(out.request().framing == BodyFraming::Chunked);
  REQUIRE(findHeader(out.request().headers, "X-Forwarded-For") != nullptr);
  CHECK(findHeader(out.request().headers, "X-Forwarded-For")->value == "1.2.3.4, 10.0.0.1");
}

TEST_CASE("an absolute-form request goes upstream in origin-form with its authority as Host",
          "[unit][http]") {
  // RFC 9112 3.2.2: the target's authority replaces Host; a reverse proxy sends origin-form.
  NullCallbacks cb;
  MessageParser in(MessageParser::Type::Request, cb, 8192);
  const std::string client =
      "GET http://other.example:81?q=1 HTTP/1.1\r\nHost: app\r\nAccept: */*\r\n\r\n";
  REQUIRE(in.feed(client.data(), client.size()).status == MessageParser::Status::MessageComplete);
  CHECK(upstreamHead(in.request(), kCtx) ==
        "GET /?q=1 HTTP/1.1\r\nHost: other.example:81\r\nAccept: */*\r\n"
        "X-Forwarded-For: 10.0.0.1\r\nX-Forwarded-Proto: http\r\n"
        "X-Forwarded-Host: other.example:81\r\nX-Request-Id: rid-1\r\n\r\n");
}

TEST_CASE("response framing decisions", "[unit][http]") {
  enum class Req { Get, Head };
  struct Case {
    const char* name;
    int client_minor;
    bool client_keep_alive;
    Req method;
    int status;
    BodyFraming upstream;
    BodyFraming expect_framing;
    bool expect_close;
    bool expect_announce;
  };
  using F = BodyFraming;
  const std::vector<Case> cases = {
      // HTTP/1.1 clients.
      {"1.1 ka CL", 1, true, Req::Get, 200, F::ContentLength, F::ContentLength, false, false},
      {"1.1 ka chunked", 1, true, Req::Get, 200, F::Chunked, F::Chunked, false, false},
      {"1.1 ka until-close", 1, true, Req::Get, 200, F::UntilClose, F::Chunked, false, false},
      {"1.1 ka HEAD", 1, true, Req::Head, 200, F::None, F::None, false, false},
      {"1.1 ka 204", 1, true, Req::Get, 204, F::None, F::None, false, false},
      {"1.1 ka 304", 1, true, Req::Get, 304, F::None, F::None, false, false},
      {"1.1 close CL", 1, false, Req::Get, 200, F::ContentLength, F::ContentLength, true, false},
      {"1.1 close chunked", 1, false, Req::Get, 200, F::Chunked, F::Chunked, true, false},
      {"1.1 close until-close", 1, false, Req::Get, 200, F::UntilClose, F::Chunked, true, false},
      {"1.1 close HEAD", 1, false, Req::Head, 200, F::None, F::None, true, false},
      {"1.1 close 204", 1, false, Req::Get, 204, F::None, F::None, true, false},
      {"1.1 close 304", 1, false, Req::Get, 304, F::None, F::None, true, false},
      // HTTP/1.0 clients: no chunked, keep-alive only when asked and the length is known.
      {"1.0 ka CL", 0, true, Req::Get, 200, F::ContentLength, F::ContentLength, false, true},
      {"1.0 ka chunked", 0, true, Req::Get, 200, F::Chunked, F::UntilClose, true, false},
      {"1.0 ka until-close", 0, true, Req::Get, 200, F::UntilClose, F::UntilClose, true, false},
      {"1.0 ka HEAD", 0, true, Req::Head, 200, F::None, F::None, false, true},
      {"1.0 ka 204", 0, true, Req::Get, 204, F::None, F::None, false, true},
      {"1.0 ka 304", 0, true, Req::Get, 304, F::None, F::None, false, true},
      {"1.0 close CL", 0, false, Req::Get, 200, F::ContentLength, F::ContentLength, true, false},
      {"1.0 close chunked", 0, false, Req::Get, 200, F::Chunked, F::UntilClose, true, false},
      {"1.0 close until-close", 0, false, Req::Get, 200, F::UntilClose, F::UntilClose, true, false},
      {"1.0 close HEAD", 0, false, Req::Head, 200, F::None, F::None, true, false},
      {"1.0 close 204", 0, false, Req::Get, 204, F::None, F::None, true, false},
      {"1.0 close 304", 0, false, Req::Get, 304, F::None, F::None, true, false},
  };
  for (const Case& c : cases) {
    for (bool force_close : {false, true}) {
      INFO(c.name << (force_close ? " force_close" : ""));
      RequestHead req = makeRequest(c.method == Req::Head ? "HEAD" : "GET", "/", {{"Host", "a"}});
      req.version_minor = static_cast<uint8_t>(c.client_minor);
      req.keep_alive = c.client_keep_alive;
      const ResponseHead resp = makeResponse(c.status, "", {}, c.upstream, 10);
      const ResponsePlan plan = planResponse(req, resp, force_close);
      CHECK(plan.framing == c.expect_framing);
      CHECK(plan.close_after == (c.expect_close || force_close));
      CHECK(plan.announce_keep_alive == (c.expect_announce && !force_close));
    }
  }
}

TEST_CASE("response plans for 1xx and upgrades", "[unit][http]") {
  RequestHead req = makeRequest("GET", "/ws", {{"Host", "a"}});
  req.upgrade = true;
  SECTION("101 accepted: tunnel, not closed") {
    const auto plan = planResponse(req, makeResponse(101, "", {}, BodyFraming::None), false);
    CHECK(plan.framing == BodyFraming::None);
    CHECK_FALSE(plan.close_after);
  }
  SECTION("upgrade refused: close after the response") {
    const auto plan =
        planResponse(req, makeResponse(400, "", {}, BodyFraming::ContentLength, 3), false);
    CHECK(plan.framing == BodyFraming::ContentLength);
    CHECK(plan.close_after);
  }
  SECTION("100 Continue never closes") {
    req.upgrade = false;
    req.keep_alive = false;
    const auto plan = planResponse(req, makeResponse(100, "", {}, BodyFraming::None), true);
    CHECK(plan.framing == BodyFraming::None);
    CHECK_FALSE(plan.close_after);
  }
}

TEST_CASE("client response head", "[unit][http]") {
  const Headers upstream = {
      {"Content-Type", "text/plain"}, {"Connection", "keep-alive, X-Internal"},
      {"Keep-Alive", "timeout=5"},    {"X-Internal", "1"},
      {"Content-Length", "5"},        {"Set-Cookie", "a=1"},
      {"Set-Cookie", "b=2"}};
  SECTION("Content-Length to a 1.1 client") {
    const auto resp = makeResponse(200, "OK", upstream, BodyFraming::ContentLength, 5);
    CHECK(clientHead(resp, {BodyFraming::ContentLength, false, false, {}}, "rid") ==
          "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nSet-Cookie: a=1\r\nSet-Cookie: b=2\r\n"
          "Content-Length: 5\r\nX-Request-Id: rid\r\n\r\n");
  }
  SECTION("empty reason uses the standard phrase; close") {
    const auto resp = makeResponse(503, "", {}, BodyFraming::ContentLength, 0);
    CHECK(clientHead(resp, {BodyFraming::ContentLength, true, false, {}}, "rid") ==
          "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n"
          "X-Request-Id: rid\r\n\r\n");
  }
  SECTION("re-chunked until-close body") {
    const auto resp =
        makeResponse(200, "OK", {{"Content-Type", "a/b"}}, BodyFraming::UntilClose, 0);
    CHECK(clientHead(resp, {BodyFraming::Chunked, false, false, {}}, "rid") ==
          "HTTP/1.1 200 OK\r\nContent-Type: a/b\r\nTransfer-Encoding: chunked\r\n"
          "X-Request-Id: rid\r\n\r\n");
  }
  SECTION("chunked upstream to chunked client: one Transfer-Encoding, no Content-Length") {
    const auto resp =
        makeResponse(200, "OK", {{"Transfer-Encoding", "chunked"}}, BodyFraming::Chunked, 0);
    CHECK(clientHead(resp, {BodyFraming::Chunked, false, false, {}}, "") ==
          "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n");
  }
  SECTION("close-delimited to a 1.0 client") {
    const auto resp =
        makeResponse(200, "OK", {{"Transfer-Encoding", "chunked"}}, BodyFraming::Chunked, 0);
    CHECK(clientHead(resp, {BodyFraming::UntilClose, true, false, {}}, "r") ==
          "HTTP/1.1 200 OK\r\nConnection: close\r\nX-Request-Id: r\r\n\r\n");
  }
  SECTION("1.0 keep-alive client is told so") {
    const auto resp = makeResponse(200, "OK", {}, BodyFraming::ContentLength, 2);
    CHECK(clientHead(resp, {BodyFraming::ContentLength, false, true, {}}, "r") ==
          "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: keep-alive\r\nX-Request-Id: r\r\n"
          "\r\n");
  }
  SECTION("HEAD and 304 pass Content-Length unchanged") {
    const auto resp = makeResponse(
        304, "Not Modified", {{"ETag", "\"x\""}, {"Content-Length", "1234"}}, BodyFraming::None);
    CHECK(clientHead(resp, {BodyFraming::None, false, false, {}}, "r") ==
          "HTTP/1.1 304 Not Modified\r\nETag: \"x\"\r\nContent-Length: 1234\r\n"
          "X-Request-Id: r\r\n\r\n");
  }
  SECTION("upstream X-Request-Id is kept, not doubled") {
    const auto resp = makeResponse(200, "OK", {{"x-request-id", "up"}}, BodyFraming::None);
    CHECK(clientHead(resp, {BodyFraming::None, false, false, {}}, "rid") ==
          "HTTP/1.1 200 OK\r\nx-request-id: up\r\n\r\n");
  }
  SECTION("101 keeps Upgrade with Connection: upgrade") {
    const auto resp = makeResponse(
        101, "Switching Protocols",
        {{"Connection", "Upgrade"}, {"Upgrade", "websocket"}, {"Sec-WebSocket-Accept", "k"}},
        BodyFraming::None);
    CHECK(clientHead(resp, {BodyFraming::None, false, false, {}}, "r") ==
          "HTTP/1.1 101 Switching Protocols\r\nSec-WebSocket-Accept: k\r\nUpgrade: websocket\r\n"
          "Connection: upgrade\r\nX-Request-Id: r\r\n\r\n");
  }
  SECTION("100 Continue is bare") {
    const auto resp = makeResponse(100, "Continue", {}, BodyFraming::None);
    CHECK(clientHead(resp, {BodyFraming::None, false, false, {}}, "r") ==
          "HTTP/1.1 100 Continue\r\n\r\n");
  }
}

TEST_CASE("client response head from a parsed head: kept field lines pass as received",
          "[unit][http]") {
  // The same fields as "client response head" above, as an upstream sends them, with spacing
  // that a field-by-field rewrite would normalise: the kept lines go on byte for byte, in runs.
  const std::string upstream =
      "HTTP/1.1 200 OK\r\nContent-Type:text/plain\r\nConnection: keep-alive, X-Internal\r\n"
      "Keep-Alive: timeout=5\r\nX-Internal: 1\r\nContent-Length: 5\r\nSet-Cookie: a=1  \r\n"
      "Set-Cookie:   b=2\r\n\r\nhello";
  NullCallbacks cb;
  MessageParser parser(MessageParser::Type::Response, cb, 8192);
  REQUIRE(parser.feed(upstream.data(), upstream.size()).status ==
          MessageParser::Status::MessageComplete);
  const ResponseHead& resp = parser.response();
  REQUIRE(resp.headers.size() == 7);
  CHECK(resp.raw_fields.substr(0, 24) == "Content-Type:text/plain\r");
  CHECK(resp.headers[6].value == "b=2");
  SECTION("Content-Length ours: the last run starts after it") {
    CHECK(clientHead(resp, {BodyFraming::ContentLength, false, false, {}}, "rid") ==
          "HTTP/1.1 200 OK\r\nContent-Type:text/plain\r\nSet-Cookie: a=1  \r\n"
          "Set-Cookie:   b=2\r\nContent-Length: 5\r\nX-Request-Id: rid\r\n\r\n");
  }
  SECTION("no body (HEAD): Content-Length passes in its place") {
    CHECK(clientHead(resp, {BodyFraming::None, true, false, {}}, "") ==
          "HTTP/1.1 200 OK\r\nContent-Type:text/plain\r\nContent-Length: 5\r\n"
          "Set-Cookie: a=1  \r\nSet-Cookie:   b=2\r\nConnection: close\r\n\r\n");
  }
  SECTION("the same head built field by field says the same, normalised") {
    ResponseHead copy = resp;
    copy.raw_fields = {};
    CHECK(clientHead(copy, {BodyFraming::ContentLength, false, false, {}}, "rid") ==
          "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nSet-Cookie: a=1\r\n"
          "Set-Cookie: b=2\r\nContent-Length: 5\r\nX-Request-Id: rid\r\n\r\n");
  }
}

TEST_CASE("local reply exact bytes", "[unit][http]") {
  CHECK(
      buildLocalReply(502, "connect_refused", "id-7", "upstream refused the connection\n", true) ==
      "HTTP/1.1 502 Bad Gateway\r\n"
      "Content-Type: text/plain; charset=utf-8\r\n"
      "Content-Length: 32\r\n"
      "Cache-Control: no-store\r\n"
      "X-Request-Id: id-7\r\n"
      "X-Triaged-Cause: connect_refused\r\n"
      "Connection: close\r\n"
      "\r\n"
      "upstream refused the connection\n");
  CHECK(buildLocalReply(404, "", "id", "", false) ==
        "HTTP/1.1 404 Not Found\r\n"
        "Content-Type: text/plain; charset=utf-8\r\n"
        "Content-Length: 0\r\n"
        "Cache-Control: no-store\r\n"
        "X-Request-Id: id\r\n"
        "\r\n");
}

TEST_CASE("reason phrases", "[unit][http]") {
  CHECK(reasonPhrase(100) == "Continue");
  CHECK(reasonPhrase(101) == "Switching Protocols");
  CHECK(reasonPhrase(200) == "OK");
  CHECK(reasonPhrase(204) == "No Content");
  CHECK(reasonPhrase(304) == "Not Modified");
  CHECK(reasonPhrase(400) == "Bad Request");
  CHECK(reasonPhrase(413) == "Content Too Large");
  CHECK(reasonPhrase(431) == "Request Header Fields Too Large");
  CHECK(reasonPhrase(499) == "Client Closed Request");
  CHECK(reasonPhrase(502) == "Bad Gateway");
  CHECK(reasonPhrase(503) == "Service Unavailable");
  CHECK(reasonPhrase(504) == "Gateway Timeout");
  CHECK(reasonPhrase(511) == "Network Authentication Required");
  CHECK(reasonPhrase(299) == "Unknown");
  CHECK(reasonPhrase(-1) == "Unknown");
}

TEST_CASE("chunk encoding pieces", "[unit][http]") {
  std::string out;
  appendChunkHeader(out, 0);
  appendChunkHeader(out, 26);
  appendChunkHeader(out, 255);
  appendChunkHeader(out, 0x1234abcd);
  CHECK(out == "0\r\n1a\r\nff\r\n1234abcd\r\n");
  out.clear();
  appendChunkHeader(out, SIZE_MAX);
  CHECK(out == std::string(sizeof(size_t) * 2, 'f') + "\r\n");

  CHECK(lastChunk({}) == "0\r\n\r\n");
  CHECK(lastChunk({{"X-Checksum", "abc"}, {"Server-Timing", "db;dur=5"}}) ==
        "0\r\nX-Checksum: abc\r\nServer-Timing: db;dur=5\r\n\r\n");
  // Fields that would change framing or routing if merged into the head are not forwarded.
  CHECK(lastChunk({{"Content-Length", "5"},
                   {"Transfer-Encoding", "chunked"},
                   {"Host", "evil"},
                   {"X-Ok", "1"}}) == "0\r\nX-Ok: 1\r\n\r\n");
}

TEST_CASE("bodyFollows: only a head with body bytes behind it may wait for them", "[unit][http]") {
  const RequestHead get = makeRequest("GET", "/", {{"Host", "a"}});
  struct Case {
    BodyFraming upstream;
    uint64_t length;
    bool head_request;
    bool follows;
  };
  const Case cases[] = {
      {BodyFraming::ContentLength, 64, false, true},
      // An empty body: waiting would hold the head until the kernel's cork timer.
      {BodyFraming::ContentLength, 0, false, false},
      {BodyFraming::Chunked, 0, false, true},  // the last chunk at least
      {BodyFraming::UntilClose, 0, false, true},
      {BodyFraming::None, 0, false, false},
      {BodyFraming::ContentLength, 64, true, false},  // HEAD: no body on the wire
  };
  for (const Case& c : cases) {
    INFO("framing " << static_cast<int>(c.upstream) << " length " << c.length << " head "
                    << c.head_request);
    const RequestHead req = c.head_request ? makeRequest("HEAD", "/", {{"Host", "a"}}) : get;
    const ResponseHead resp = makeResponse(200, "OK", {}, c.upstream, c.length);
    CHECK(bodyFollows(resp, planResponse(req, resp, false)) == c.follows);
  }
}

}  // namespace triaged::http
