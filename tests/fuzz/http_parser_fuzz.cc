// The request and response parsers, differentially: the input is parsed once whole and once cut
// at arbitrary points (down to one byte per feed), and both readings must report the same
// events: the same heads, the same body bytes, the same message ends and trailers, an error at
// the same message. Every context comes from the input: the first byte picks requests or
// responses and whether the response answers a HEAD; 1xx, 204/304, chunked bodies with trailers
// and pipelined messages come from the bytes that follow. Also held: a response status is
// 100-599, a request has an origin-form path (CONNECT none), consumed never exceeds what was fed.

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "fuzz_support.h"
#include "triaged/http/message_parser.h"

namespace {

using triaged::http::BodyFraming;
using triaged::http::Headers;
using triaged::http::MessageParser;

std::string describeHeaders(const Headers& headers) {
  std::string out;
  for (const auto& h : headers) {
    out.append(h.name).append(": ").append(h.value).append("\n");
  }
  return out;
}

// Writes every event as text; body bytes of consecutive onBody calls are merged, since how they
// are cut depends on how the input was.
class Recorder : public triaged::http::ParserCallbacks {
 public:
  explicit Recorder(const MessageParser*& parser) : parser_(parser) {}
  void onHead() override {
    const MessageParser& p = *parser_;
    log += "HEAD ";
    if (p.request().method.empty()) {
      const auto& r = p.response();
      FUZZ_CHECK(r.status >= 100 && r.status <= 599, "response status outside 100-599");
      log += std::to_string(r.status) + " " + std::string(r.reason);
      log += " framing=" + std::to_string(static_cast<int>(r.framing)) +
             " length=" + std::to_string(r.content_length) +
             " keep_alive=" + std::to_string(r.keep_alive) +
             " upgrade=" + std::to_string(r.upgrade) + "\n" + describeHeaders(r.headers);
    } else {
      const auto& r = p.request();
      // CONNECT (answered 405 by the session) has an authority-form target and no path.
      if (r.method == "CONNECT") {
        FUZZ_CHECK(r.path.empty(), "a CONNECT request with a path");
      } else {
        FUZZ_CHECK(!r.path.empty() && (r.path.front() == '/' || r.path == "*"),
                   "a request without an origin-form path");
      }
      log += std::string(r.method) + " " + std::string(r.target) + " " + std::string(r.path) + " " +
             std::string(r.authority) + " framing=" + std::to_string(static_cast<int>(r.framing)) +
             " length=" + std::to_string(r.content_length) +
             " keep_alive=" + std::to_string(r.keep_alive) +
             " upgrade=" + std::to_string(r.upgrade) + "\n" + describeHeaders(r.headers);
    }
    in_body_ = false;
  }
  void onBody(const char* data, size_t len) override {
    if (!in_body_) log += "BODY ";
    in_body_ = true;
    log.append(data, len);
  }
  void onMessageComplete(const Headers& trailers) override {
    log += "\nEND\n" + describeHeaders(trailers);
    in_body_ = false;
  }

  std::string log;

 private:
  const MessageParser*& parser_;
  bool in_body_ = false;
};

// Feeds `data` in pieces whose sizes come from `cuts` (0 = the rest at once), resuming after
// each complete message as a connection owner would. Returns the event log.
std::string run(MessageParser::Type type, bool head_response, std::string_view data,
                std::string_view cuts) {
  const MessageParser* self = nullptr;
  Recorder rec(self);
  MessageParser parser(type, rec, 16 * 1024);
  self = &parser;
  parser.setExpectNoBody(head_response);
  size_t cut = 0;
  std::string_view left = data;
  // A piece is fed until the parser takes all of it; what a message left over is fed again
  // after resume(), like the connection's unconsumed input.
  while (!left.empty()) {
    size_t n = left.size();
    if (!cuts.empty()) {
      const size_t c = static_cast<uint8_t>(cuts[cut++ % cuts.size()]);
      if (c != 0) n = std::min(n, c % 17 + 1);
    }
    std::string_view piece = left.substr(0, n);
    while (true) {
      const auto r = parser.feed(piece.data(), piece.size());
      FUZZ_CHECK(r.consumed <= piece.size(), "consumed more than fed");
      if (r.status == MessageParser::Status::Error) {
        rec.log += "\nERROR\n";
        FUZZ_CHECK(parser.feed("x", 1).status == MessageParser::Status::Error,
                   "a failed parser parsed again");
        return rec.log;
      }
      if (r.status == MessageParser::Status::Upgrade) {
        rec.log += "\nUPGRADE\n";
        return rec.log;
      }
      if (r.status == MessageParser::Status::MessageComplete) {
        parser.resume();
        piece.remove_prefix(r.consumed);
        if (piece.empty()) break;
        continue;
      }
      FUZZ_CHECK(r.consumed == piece.size(), "NeedMore without taking everything");
      break;
    }
    left.remove_prefix(n);
  }
  const auto end = parser.finish();
  rec.log += end == MessageParser::Status::Error ? "\nEOF-ERROR\n" : "\nEOF\n";
  return rec.log;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  triaged::fuzz::Input in(data, size);
  const uint8_t mode = in.byte();
  const std::string_view cuts = in.until('\xff');
  const std::string_view message = in.rest();
  const auto type = (mode & 1) != 0 ? MessageParser::Type::Response : MessageParser::Type::Request;
  const bool head_response = (mode & 2) != 0;
  const std::string whole = run(type, head_response, message, "");
  const std::string split = run(type, head_response, message, cuts.empty() ? "\x01" : cuts);
  const std::string bytewise = run(type, head_response, message, "\x11");
  FUZZ_CHECK(whole == split, "whole and split readings differ");
  FUZZ_CHECK(whole == bytewise, "whole and byte-by-byte readings differ");
  return 0;
}
