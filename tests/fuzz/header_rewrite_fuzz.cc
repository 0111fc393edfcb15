// The heads triaged writes, over every head the parser accepts: the input is a request and a
// response (split at the first 0xff byte). What buildUpstreamRequestHead writes must parse back
// with the same strict parser as one request with the same method, origin-form target, body
// framing and Host; what buildClientResponseHead writes for each plan must parse back as one
// response with the same status and the framing the plan promised. A field value that smuggled
// a line break, or a framing header written twice, fails here.

#include <cstddef>
#include <cstdint>
#include <string>

#include "fuzz_support.h"
#include "triaged/http/header_rewrite.h"
#include "triaged/http/message_parser.h"

namespace {

using triaged::http::BodyFraming;
using triaged::http::MessageParser;

class NullCallbacks : public triaged::http::ParserCallbacks {
 public:
  void onHead() override {}
  void onBody(const char*, size_t) override {}
  void onMessageComplete(const triaged::http::Headers&) override {}
};

// Parses a head alone: "complete" means the head ended and nothing was left over (body bytes of
// a framed body are not there, so NeedMore after the head is fine too).
bool parsesAsOneHead(MessageParser& p, const std::string& head) {
  const auto r = p.feed(head.data(), head.size());
  if (r.status == MessageParser::Status::Error) return false;
  return p.headComplete() &&
         (r.status != MessageParser::Status::MessageComplete || r.consumed == head.size());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  triaged::fuzz::Input in(data, size);
  const std::string_view request_bytes = in.until('\xff');
  const std::string_view response_bytes = in.rest();

  NullCallbacks cb;
  MessageParser request_parser(MessageParser::Type::Request, cb, 16 * 1024);
  const auto r = request_parser.feed(request_bytes.data(), request_bytes.size());
  if (!request_parser.headComplete() || r.status == MessageParser::Status::Error) return 0;
  const auto& request = request_parser.request();
  if (request.method == "CONNECT") return 0;  // answered 405, never forwarded

  std::string upstream;
  buildUpstreamRequestHead(upstream, request,
                           {"127.0.0.1", "0123456789abcdef", "backend:80",
                            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"});
  MessageParser again(MessageParser::Type::Request, cb, 64 * 1024);
  FUZZ_CHECK(parsesAsOneHead(again, upstream), upstream.c_str());
  const auto& back = again.request();
  FUZZ_CHECK(back.method == request.method, "method changed");
  FUZZ_CHECK(back.target == request.path, "the upstream target is not the origin-form");
  FUZZ_CHECK(back.authority == (request.authority.empty() ? "backend:80" : request.authority),
             "Host is not the request's authority");
  const bool body =
      request.framing == BodyFraming::ContentLength || request.framing == BodyFraming::Chunked;
  FUZZ_CHECK(!body || back.framing == request.framing, "body framing changed");
  FUZZ_CHECK(back.framing != BodyFraming::ContentLength || !body ||
                 back.content_length == request.content_length,
             "Content-Length changed");

  MessageParser response_parser(MessageParser::Type::Response, cb, 16 * 1024);
  response_parser.setExpectNoBody(request.isHead());
  const auto s = response_parser.feed(response_bytes.data(), response_bytes.size());
  if (!response_parser.headComplete() || s.status == MessageParser::Status::Error) return 0;
  const auto& response = response_parser.response();
  for (const bool force_close : {false, true}) {
    const auto plan = triaged::http::planResponse(request, response, force_close);
    std::string client;
    buildClientResponseHead(client, response, plan, "0123456789abcdef");
    MessageParser check(MessageParser::Type::Response, cb, 64 * 1024);
    check.setExpectNoBody(request.isHead());
    FUZZ_CHECK(parsesAsOneHead(check, client), client.c_str());
    FUZZ_CHECK(check.response().status == response.status, "status changed");
    if (!response.isInterim() && response.status != 101) {
      FUZZ_CHECK(check.response().framing == plan.framing, "the plan's framing was not written");
      FUZZ_CHECK(!plan.close_after || !check.response().keep_alive, "closing without saying so");
    }
  }
  return 0;
}
