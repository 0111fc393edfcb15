#pragma once

// MessageParser wraps llhttp (strict mode) for one connection's stream of requests or responses.
// It owns the llhttp state, collects the head into RequestHead/ResponseHead, hands body bytes to
// its callbacks as spans into the caller's buffer (valid only during the call), and pauses after
// every complete message so the owner decides when the next pipelined message may start.
// The head's names and values are views into an arena the parser owns and reuses, which holds
// the head's raw bytes (one copy per feed() that the head spans), valid until the next resume()
// (trailers: copied piece by piece into their own arena, likewise).
// Single-threaded; lives as long as its connection. No libevent.

#include <llhttp.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "triaged/http/message.h"

namespace triaged::http {

enum class ParseErrorKind : uint8_t {
  None,
  HeaderTooLarge,  // head over the configured byte limit (request: 431; response: 502)
  BadMessage,      // anything else invalid: framing, syntax, smuggling vectors (400 / 502)
  UnexpectedEof,   // connection ended inside a message (truncated body or partial head)
};

struct ParseError {
  ParseErrorKind kind = ParseErrorKind::None;
  std::string
      code;  // llhttp errno name ("HPE_INVALID_HEADER_TOKEN") or our own ("TRIAGED_OBS_FOLD")
  std::string reason;  // human-readable
};

// Callbacks a parser owner implements. All are invoked from inside feed()/finish().
class ParserCallbacks {
 public:
  virtual ~ParserCallbacks() = default;
  // The head is complete; read it with MessageParser::request()/response().
  virtual void onHead() = 0;
  // A span of body bytes (already de-chunked).
  virtual void onBody(const char* data, size_t len) = 0;
  // The message ended. For chunked bodies `trailers` holds the trailer fields (often empty).
  // Also called for an upgrade (the HTTP message itself is complete) just before feed()
  // returns Status::Upgrade: "request fully received" logic needs no special case.
  virtual void onMessageComplete(const Headers& trailers) = 0;
};

class MessageParser {
 public:
  enum class Type : uint8_t { Request, Response };

  enum class Status : uint8_t {
    NeedMore,         // all input consumed, message not complete yet
    MessageComplete,  // paused after a complete message; `consumed` counts up to its end
    Upgrade,          // head of an upgrade (request with Connection: upgrade + Upgrade, CONNECT,
                      // or any 101 response) is complete; bytes after `consumed` belong to the
                      // tunnel. onMessageComplete was called. (The rare upgrade request with a
                      // body gets it through onBody first and `consumed` ends after it.)
    Error,            // see error(); the connection must be closed after the error reply
  };

  struct FeedResult {
    Status status = Status::NeedMore;
    size_t consumed = 0;
  };

  MessageParser(Type type, ParserCallbacks& callbacks, uint64_t max_head_bytes);
  MessageParser(Type type, uint64_t max_head_bytes);  // callbacks set later, before feed()
  MessageParser(const MessageParser&) = delete;
  MessageParser& operator=(const MessageParser&) = delete;

  // Parses as much of data[0, len) as possible. After MessageComplete, call resume() before
  // feeding the next message's bytes (feeding without it is an Error). onHead() and
  // onMessageComplete() run from feed() itself, onBody() from inside llhttp. After Error every
  // call returns Error; after Upgrade every call returns Upgrade with consumed 0.
  FeedResult feed(const char* data, size_t len);
  // The peer closed the connection. Completes an until-close body, or reports UnexpectedEof
  // if a message was in progress. Returns MessageComplete, NeedMore (idle: nothing in
  // progress) or Error.
  Status finish();
  // Allow the next message after MessageComplete. Clears the head.
  void resume();
  // Where onHead/onBody/onMessageComplete go (a response parser lives with its upstream
  // connection and serves one session after another).
  void setCallbacks(ParserCallbacks* callbacks) { callbacks_ = callbacks; }
  // True between MessageComplete and resume(): the parser holds a finished message.
  bool awaitingResume() const { return state_ == State::AwaitingResume; }

  // Response parsers only: the request this response answers was HEAD, so a Content-Length or
  // chunked header does not announce a body. Set before feeding the response; it survives
  // resume() (so it still applies to the final response after a 100 Continue) until changed.
  void setExpectNoBody(bool no_body) { expect_no_body_ = no_body; }

  const RequestHead& request() const { return request_; }
  const ResponseHead& response() const { return response_; }
  const ParseError& error() const { return error_; }
  // True once any byte of the current message was parsed (distinguishes "nothing received"
  // from "a partial head").
  bool messageStarted() const { return message_started_; }
  bool headComplete() const { return head_complete_; }
  uint64_t headBytes() const { return head_bytes_; }
  // With the head of a Content-Length message complete: how many body bytes are still to come.
  uint64_t contentLengthLeft() const { return parser_.content_length; }

 private:
  friend struct ParserTrampolines;

  // Why llhttp stopped with HPE_PAUSED. The parser pauses itself at the end of the head and at
  // the start of the trailer section: those are the only ways to learn where they lie in the
  // caller's buffer, which the head byte limit and the line-ending scan need.
  enum class Pause : uint8_t { None, HeadComplete, TrailersStart, MessageComplete };
  enum class State : uint8_t { Parsing, AwaitingResume, Upgraded, Failed };

  // llhttp callbacks, reached through ParserTrampolines. They return 0, HPE_PAUSED, or -1 after
  // fail() recorded why.
  int onMessageBegin();
  int onUrl(const char* at, size_t len);
  int onStatus(const char* at, size_t len);
  int onVersion(const char* at, size_t len);
  int onHeaderField(const char* at, size_t len);
  int onHeaderValue(const char* at, size_t len);
  int onHeaderValueComplete();
  int onHeadersComplete();
  // The head's checks and fields, once feed() has its bytes in head_arena_: 0, or -1 after fail().
  int finishHead();
  // Reads the head's field lines from head_arena_'s first `head_end` bytes into `out`, checking
  // their line ends, and sets `raw_fields` to those lines: 0, or -1 after fail().
  int splitHead(uint32_t head_end, Headers& out, std::string_view& raw_fields);
  int onBody(const char* at, size_t len);
  int onChunkHeader();
  int onMessageComplete();

  // A piece of the head (or trailers) in its arena, by offset: the arena may move as it grows.
  struct Span {
    uint32_t offset = 0;
    uint32_t length = 0;
  };
  struct FieldSpans {
    Span name;
    Span value;
  };

  int fail(ParseErrorKind kind, std::string_view code, std::string_view reason);
  int failEmptyName();
  int checkHeadLimit(const char* span_end);
  // The same for a piece of a header field or value: trailers have their own budget.
  int checkFieldLimit(const char* at, size_t len);
  bool scanLineEndings(const char* from, const char* to);
  // The checks of one LF of a head or trailer section (the byte before it is `before`; the section
  // ends at `end`): true, or false after fail() (bare LF, obs-fold).
  bool lineEndOk(const char* lf, char before, const char* end);
  // A piece of a name, value, target or reason. The head's pieces are only located here: the
  // head's raw bytes are copied into head_arena_ in one piece per feed() (copyRawHead), where
  // the pieces' offsets then point. Trailer pieces are appended to trailer_arena_ one by one.
  void record(Span& span, const char* at, size_t len);
  void beginRawHead(const char* from);
  void copyRawHead(const char* to);
  std::string_view view(const std::string& arena, Span span) const {
    return std::string_view(arena).substr(span.offset, span.length);
  }
  // Where the origin-form of the request-target lies in head_arena_, which it extends when an
  // absolute-form target has no path. Before materialize().
  Span originFormSpan();
  // Turns the spans of the trailer section just parsed into the views of `out`.
  void materialize(const std::string& arena, Headers& out);
  bool scanning() const { return !head_complete_ || in_trailers_; }
  bool isUpgrade() const { return type_ == Type::Request ? request_.upgrade : response_.upgrade; }
  BodyFraming framing() const {
    return type_ == Type::Request ? request_.framing : response_.framing;
  }
  FeedResult failFeed(const char* data, size_t len, const char* pos);
  void resetMessage();

  llhttp_t parser_{};
  Type type_;
  ParserCallbacks* callbacks_ = nullptr;
  uint64_t max_head_bytes_;
  State state_ = State::Parsing;
  Pause pause_ = Pause::None;
  bool expect_no_body_ = false;
  bool message_started_ = false;
  bool head_complete_ = false;
  bool in_trailers_ = false;
  bool field_open_ = false;  // a field's name began and its value has not ended yet
  char scan_prev_ = 0;       // last head byte seen by scanLineEndings, carried across feeds
  const char* exec_start_ = nullptr;  // start of the buffer llhttp is executing right now
  // The head's bytes in the caller's buffer not yet copied to head_arena_ start at raw_from_,
  // which lands at offset raw_base_.
  const char* raw_from_ = nullptr;
  uint32_t raw_base_ = 0;
  uint64_t head_bytes_ = 0;
  uint64_t trailer_bytes_ = 0;
  RequestHead request_;
  ResponseHead response_;
  Headers trailers_;
  std::string head_arena_;
  std::string trailer_arena_;
  std::vector<FieldSpans> fields_;  // of the section being parsed
  Span target_;                     // request-target, or the reason phrase of a response
  Span version_;                    // the digits after "HTTP/"
  ParseError error_;
};

}  // namespace triaged::http
