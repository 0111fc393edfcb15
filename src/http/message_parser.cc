#include "triaged/http/message_parser.h"

#include <llhttp.h>

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace triaged::http {
namespace {

// Our own error codes, for the strictness checks llhttp's strict mode does not make itself.
// Each one was found by feeding the vector to llhttp 8.1 and watching it pass (see
// tests/unit/http/message_parser_test.cc).
constexpr std::string_view kHeaderTooLarge = "TRIAGED_HEADER_TOO_LARGE";
constexpr std::string_view kTrailersTooLarge = "TRIAGED_TRAILERS_TOO_LARGE";
constexpr std::string_view kObsFold = "TRIAGED_OBS_FOLD";
constexpr std::string_view kBareCr = "TRIAGED_BARE_CR";
constexpr std::string_view kBareLf = "TRIAGED_BARE_LF";
constexpr std::string_view kInvalidHeaderName = "TRIAGED_INVALID_HEADER_NAME";
constexpr std::string_view kInvalidHeaderValue = "TRIAGED_INVALID_HEADER_VALUE";
constexpr std::string_view kMissingHost = "TRIAGED_MISSING_HOST";
constexpr std::string_view kDuplicateHost = "TRIAGED_DUPLICATE_HOST";
constexpr std::string_view kDuplicateContentLength = "TRIAGED_DUPLICATE_CONTENT_LENGTH";
constexpr std::string_view kInvalidContentLength = "TRIAGED_INVALID_CONTENT_LENGTH";
constexpr std::string_view kContentLengthWithTe = "TRIAGED_CONTENT_LENGTH_WITH_TRANSFER_ENCODING";
constexpr std::string_view kBadTransferEncoding = "TRIAGED_BAD_TRANSFER_ENCODING";
constexpr std::string_view kTeInHttp10 = "TRIAGED_TRANSFER_ENCODING_IN_HTTP10";
constexpr std::string_view kUnsupportedVersion = "TRIAGED_UNSUPPORTED_VERSION";
constexpr std::string_view kUnexpectedEof = "TRIAGED_UNEXPECTED_EOF";
constexpr std::string_view kNotResumed = "TRIAGED_FEED_WITHOUT_RESUME";
constexpr std::string_view kInternal = "TRIAGED_PARSER_INTERNAL";

std::string_view trimOws(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// RFC 9110 5.6.2 tchar.
bool isTokenChar(char c) {
  if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) return true;
  return std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

// RFC 9110 5.5: field values are VCHAR, obs-text, SP and HTAB; every other control byte
// (NUL, CR, LF, DEL...) is refused.
bool isFieldValueChar(char c) {
  const auto u = static_cast<unsigned char>(c);
  return u == '\t' || (u >= 0x20 && u != 0x7f);
}

bool allDigits(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

}  // namespace

// The llhttp trampolines. A struct (the header's friend) rather than free functions, so that
// they can reach the private per-event members; defined only here.
struct ParserTrampolines {
  static MessageParser& self(llhttp_t* p) { return *static_cast<MessageParser*>(p->data); }

  static int onMessageBegin(llhttp_t* p) { return self(p).onMessageBegin(); }
  static int onUrl(llhttp_t* p, const char* at, size_t len) { return self(p).onUrl(at, len); }
  static int onStatus(llhttp_t* p, const char* at, size_t len) { return self(p).onStatus(at, len); }
  static int onHeaderField(llhttp_t* p, const char* at, size_t len) {
    return self(p).onHeaderField(at, len);
  }
  static int onHeaderFieldComplete(llhttp_t* p) { return self(p).onHeaderFieldComplete(); }
  static int onHeaderValue(llhttp_t* p, const char* at, size_t len) {
    return self(p).onHeaderValue(at, len);
  }
  static int onHeaderValueComplete(llhttp_t* p) { return self(p).onHeaderValueComplete(); }
  static int onHeadersComplete(llhttp_t* p) { return self(p).onHeadersComplete(); }
  static int onBody(llhttp_t* p, const char* at, size_t len) { return self(p).onBody(at, len); }
  static int onChunkHeader(llhttp_t* p) { return self(p).onChunkHeader(); }
  static int onMessageComplete(llhttp_t* p) { return self(p).onMessageComplete(); }
};

namespace {

llhttp_settings_t makeSettings() {
  llhttp_settings_t s;
  llhttp_settings_init(&s);
  s.on_message_begin = &ParserTrampolines::onMessageBegin;
  s.on_url = &ParserTrampolines::onUrl;
  s.on_status = &ParserTrampolines::onStatus;
  s.on_header_field = &ParserTrampolines::onHeaderField;
  s.on_header_field_complete = &ParserTrampolines::onHeaderFieldComplete;
  s.on_header_value = &ParserTrampolines::onHeaderValue;
  s.on_header_value_complete = &ParserTrampolines::onHeaderValueComplete;
  s.on_headers_complete = &ParserTrampolines::onHeadersComplete;
  s.on_body = &ParserTrampolines::onBody;
  s.on_chunk_header = &ParserTrampolines::onChunkHeader;
  s.on_message_complete = &ParserTrampolines::onMessageComplete;
  return s;
}

// llhttp keeps a pointer to its settings for the parser's whole life.
const llhttp_settings_t kSettings = makeSettings();

}  // namespace

MessageParser::MessageParser(Type type, ParserCallbacks& callbacks, uint64_t max_head_bytes)
    : type_(type), callbacks_(callbacks), max_head_bytes_(max_head_bytes) {
  llhttp_init(&parser_, type == Type::Request ? HTTP_REQUEST : HTTP_RESPONSE, &kSettings);
  parser_.data = this;
  resetMessage();
}

MessageParser::FeedResult MessageParser::feed(const char* data, size_t len) {
  switch (state_) {
    case State::Parsing:
      break;
    case State::Failed:
      return {Status::Error, 0};
    case State::Upgraded:
      // Everything after the upgrade belongs to the tunnel, so nothing here is ours.
      return {Status::Upgrade, 0};
    case State::AwaitingResume:
      fail(ParseErrorKind::BadMessage, kNotResumed,
           "feed() after MessageComplete without resume()");
      state_ = State::Failed;
      return {Status::Error, 0};
  }

  const char* p = data;
  const char* const end = data + len;
  while (true) {
    exec_start_ = p;
    const llhttp_errno_t err = llhttp_execute(&parser_, p, static_cast<size_t>(end - p));
    if (err == HPE_OK) {
      if (scanning() && !scanLineEndings(p, end)) return failFeed(data, len, end);
      if (!head_complete_) {
        head_bytes_ += static_cast<uint64_t>(end - p);
        if (head_bytes_ > max_head_bytes_) {
          fail(ParseErrorKind::HeaderTooLarge, kHeaderTooLarge, "message head over the limit");
          return failFeed(data, len, end);
        }
      }
      return {Status::NeedMore, len};
    }

    const char* pos = llhttp_get_error_pos(&parser_);
    if (err == HPE_PAUSED) {
      const Pause why = pause_;
      pause_ = Pause::None;
      switch (why) {
        case Pause::HeadComplete:
          if (!scanLineEndings(p, pos)) return failFeed(data, len, pos);
          head_bytes_ += static_cast<uint64_t>(pos - p);
          if (head_bytes_ > max_head_bytes_) {
            fail(ParseErrorKind::HeaderTooLarge, kHeaderTooLarge, "message head over the limit");
            return failFeed(data, len, pos);
          }
          callbacks_.onHead();
          break;
        case Pause::TrailersStart:
          // The trailer section starts right after the last chunk's CRLF.
          scan_prev_ = '\n';
          break;
        case Pause::MessageComplete:
          if (in_trailers_ && !scanLineEndings(p, pos)) return failFeed(data, len, pos);
          if (isUpgrade()) {
            state_ = State::Upgraded;
            callbacks_.onMessageComplete(trailers_);
            return {Status::Upgrade, static_cast<size_t>(pos - data)};
          }
          state_ = State::AwaitingResume;
          callbacks_.onMessageComplete(trailers_);
          return {Status::MessageComplete, static_cast<size_t>(pos - data)};
        case Pause::None:
          fail(ParseErrorKind::BadMessage, kInternal, "llhttp paused without a reason");
          return failFeed(data, len, pos);
      }
      llhttp_resume(&parser_);
      p = pos;
      continue;
    }

    if (error_.kind == ParseErrorKind::None) {
      // HPE_PAUSED_H2_UPGRADE (a "PRI * HTTP/2.0" preface) lands here too: we only speak 1.x.
      error_.kind = ParseErrorKind::BadMessage;
      error_.code = llhttp_errno_name(err);
      const char* reason = llhttp_get_error_reason(&parser_);
      error_.reason = reason != nullptr ? reason : "";
    }
    return failFeed(data, len, pos);
  }
}

MessageParser::Status MessageParser::finish() {
  switch (state_) {
    case State::Parsing:
      break;
    case State::Failed:
      return Status::Error;
    case State::AwaitingResume:
    case State::Upgraded:
      return Status::NeedMore;
  }
  if (!message_started_) return Status::NeedMore;

  if (head_complete_ && framing() == BodyFraming::UntilClose) {
    // llhttp calls on_message_complete from llhttp_finish() for a close-delimited body and
    // hands back the callback's HPE_PAUSED without storing it in the parser.
    const llhttp_errno_t err = llhttp_finish(&parser_);
    if (err == HPE_PAUSED && pause_ == Pause::MessageComplete) {
      pause_ = Pause::None;
      state_ = State::AwaitingResume;
      callbacks_.onMessageComplete(trailers_);
      return Status::MessageComplete;
    }
  }
  fail(ParseErrorKind::UnexpectedEof, kUnexpectedEof,
       head_complete_ ? "connection closed inside the message body"
                      : "connection closed inside the message head");
  state_ = State::Failed;
  return Status::Error;
}

void MessageParser::resume() {
  if (state_ != State::AwaitingResume) return;
  llhttp_resume(&parser_);
  resetMessage();
  state_ = State::Parsing;
}

void MessageParser::resetMessage() {
  message_started_ = false;
  head_complete_ = false;
  in_trailers_ = false;
  field_open_ = false;
  scan_prev_ = 0;
  head_bytes_ = 0;
  trailer_bytes_ = 0;
  request_ = RequestHead{};
  response_ = ResponseHead{};
  trailers_.clear();
  current_headers_ = type_ == Type::Request ? &request_.headers : &response_.headers;
}

MessageParser::FeedResult MessageParser::failFeed(const char* data, size_t len, const char* pos) {
  state_ = State::Failed;
  // error_pos may be stale or null for some errors; only report it when it lies in this buffer.
  const bool in_buffer = pos != nullptr && pos >= data && pos <= data + len;
  return {Status::Error, in_buffer ? static_cast<size_t>(pos - data) : 0};
}

int MessageParser::fail(ParseErrorKind kind, std::string_view code, std::string_view reason) {
  // The first problem found is the one reported; later ones are consequences.
  if (error_.kind == ParseErrorKind::None) {
    error_.kind = kind;
    error_.code = code;
    error_.reason = reason;
  }
  return -1;
}

int MessageParser::checkHeadLimit(const char* span_end) {
  // Checked per span as well as per feed() so that a single huge read cannot make us
  // accumulate an unbounded header string before the limit applies.
  if (head_complete_) return 0;
  const auto so_far = head_bytes_ + static_cast<uint64_t>(span_end - exec_start_);
  if (so_far > max_head_bytes_) {
    return fail(ParseErrorKind::HeaderTooLarge, kHeaderTooLarge, "message head over the limit");
  }
  return 0;
}

bool MessageParser::scanLineEndings(const char* from, const char* to) {
  // llhttp 8.1 strict mode still accepts obs-fold, a bare LF ending the start line or the head,
  // and bare LF in the trailer section. Two parsers disagreeing on line ends is the root of
  // request smuggling, so only CRLF is a line end here.
  for (const char* c = from; c != to; ++c) {
    const char byte = *c;
    if (scan_prev_ == '\r' && byte != '\n') {
      fail(ParseErrorKind::BadMessage, kBareCr, "CR not followed by LF");
      return false;
    }
    if (byte == '\n' && scan_prev_ != '\r') {
      fail(ParseErrorKind::BadMessage, kBareLf, "line ended by LF without CR");
      return false;
    }
    if (scan_prev_ == '\n' && (byte == ' ' || byte == '\t')) {
      fail(ParseErrorKind::BadMessage, kObsFold, "obsolete line folding");
      return false;
    }
    scan_prev_ = byte;
  }
  return true;
}

// llhttp callbacks

int MessageParser::onMessageBegin() {
  message_started_ = true;
  return 0;
}

int MessageParser::onUrl(const char* at, size_t len) {
  request_.target.append(at, len);
  return checkHeadLimit(at + len);
}

int MessageParser::onStatus(const char* at, size_t len) {
  response_.reason.append(at, len);
  return checkHeadLimit(at + len);
}

int MessageParser::onHeaderField(const char* at, size_t len) {
  if (!field_open_) {
    current_headers_->emplace_back();
    field_open_ = true;
  }
  current_headers_->back().name.append(at, len);
  if (in_trailers_) {
    trailer_bytes_ += len;
    if (trailer_bytes_ > max_head_bytes_) {
      return fail(ParseErrorKind::HeaderTooLarge, kTrailersTooLarge, "trailers over the limit");
    }
    return 0;
  }
  return checkHeadLimit(at + len);
}

int MessageParser::onHeaderFieldComplete() {
  // llhttp accepts an empty field name (": value"); it never reaches onHeaderField then.
  if (!field_open_) current_headers_->emplace_back();
  field_open_ = false;
  const std::string& name = current_headers_->back().name;
  if (name.empty()) {
    return fail(ParseErrorKind::BadMessage, kInvalidHeaderName, "empty header name");
  }
  for (char c : name) {
    if (!isTokenChar(c)) {
      return fail(ParseErrorKind::BadMessage, kInvalidHeaderName, "invalid header name");
    }
  }
  return 0;
}

int MessageParser::onHeaderValue(const char* at, size_t len) {
  current_headers_->back().value.append(at, len);
  if (in_trailers_) {
    trailer_bytes_ += len;
    if (trailer_bytes_ > max_head_bytes_) {
      return fail(ParseErrorKind::HeaderTooLarge, kTrailersTooLarge, "trailers over the limit");
    }
    return 0;
  }
  return checkHeadLimit(at + len);
}

int MessageParser::onHeaderValueComplete() {
  std::string& value = current_headers_->back().value;
  // llhttp skips leading whitespace but keeps trailing OWS, which is not part of the value.
  value.resize(trimOws(value).size());
  for (char c : value) {
    if (!isFieldValueChar(c)) {
      return fail(ParseErrorKind::BadMessage, kInvalidHeaderValue,
                  "control character in header value");
    }
  }
  return 0;
}

int MessageParser::onHeadersComplete() {
  head_complete_ = true;
  const uint8_t major = parser_.http_major;
  const uint8_t minor = parser_.http_minor;
  if (major != 1 || minor > 1) {
    return fail(ParseErrorKind::BadMessage, kUnsupportedVersion, "only HTTP/1.0 and 1.1");
  }

  const Headers& headers = *current_headers_;
  int host_count = 0;
  int content_length_count = 0;
  int te_count = 0;
  const Header* te = nullptr;
  const Header* content_length = nullptr;
  for (const Header& h : headers) {
    if (equalsIgnoreCase(h.name, "Host")) {
      ++host_count;
    } else if (equalsIgnoreCase(h.name, "Content-Length")) {
      ++content_length_count;
      content_length = &h;
    } else if (equalsIgnoreCase(h.name, "Transfer-Encoding")) {
      ++te_count;
      te = &h;
    }
  }

  // llhttp already refuses the Content-Length vectors; these checks keep the policy in one
  // readable place should a future llhttp relax them.
  if (content_length_count > 1) {
    return fail(ParseErrorKind::BadMessage, kDuplicateContentLength, "duplicate Content-Length");
  }
  if (content_length != nullptr && !allDigits(content_length->value)) {
    return fail(ParseErrorKind::BadMessage, kInvalidContentLength, "invalid Content-Length");
  }
  if (content_length != nullptr && te != nullptr) {
    return fail(ParseErrorKind::BadMessage, kContentLengthWithTe,
                "Content-Length together with Transfer-Encoding");
  }
  // We de-chunk and re-chunk bodies and implement no other transfer coding, so a message whose
  // only coding is not exactly "chunked" would be forwarded with the wrong framing. llhttp lets
  // "gzip, chunked" and split Transfer-Encoding lines through.
  if (te_count > 1 || (te != nullptr && !equalsIgnoreCase(te->value, "chunked"))) {
    return fail(ParseErrorKind::BadMessage, kBadTransferEncoding,
                "Transfer-Encoding other than a single \"chunked\"");
  }

  const uint16_t skip_body_flags = static_cast<uint16_t>(parser_.flags | F_SKIPBODY);
  if (type_ == Type::Request) {
    RequestHead& r = request_;
    r.method = llhttp_method_name(static_cast<llhttp_method_t>(parser_.method));
    r.version_major = major;
    r.version_minor = minor;
    if (minor == 1 && host_count == 0) {
      return fail(ParseErrorKind::BadMessage, kMissingHost, "HTTP/1.1 request without Host");
    }
    if (host_count > 1) {
      return fail(ParseErrorKind::BadMessage, kDuplicateHost, "more than one Host");
    }
    // RFC 9112 6.1: Transfer-Encoding in a 1.0 message means its framing cannot be trusted.
    if (minor == 0 && te != nullptr) {
      return fail(ParseErrorKind::BadMessage, kTeInHttp10, "Transfer-Encoding in HTTP/1.0");
    }
    r.upgrade = parser_.upgrade != 0;  // Connection: upgrade + Upgrade, or CONNECT
    const bool is_connect = parser_.method == HTTP_CONNECT;
    if (is_connect) {
      r.framing = BodyFraming::None;
    } else if ((parser_.flags & F_CHUNKED) != 0) {
      r.framing = BodyFraming::Chunked;
    } else if ((parser_.flags & F_CONTENT_LENGTH) != 0) {
      r.framing = BodyFraming::ContentLength;
      r.content_length = parser_.content_length;
    } else {
      r.framing = BodyFraming::None;
    }
    for (const Header& h : headers) {
      if (equalsIgnoreCase(h.name, "Expect") && equalsIgnoreCase(h.value, "100-continue")) {
        r.expect_continue = true;
      }
    }
    r.keep_alive = llhttp_should_keep_alive(&parser_) != 0;
  } else {
    ResponseHead& r = response_;
    r.status = parser_.status_code;
    r.version_major = major;
    r.version_minor = minor;
    if (r.status == 101) {
      // llhttp only treats a 101 as an upgrade when it also carries Connection: upgrade and
      // Upgrade; without them it would parse the tunnel's bytes as the next response.
      parser_.upgrade = 1;
      parser_.flags = skip_body_flags;
      r.upgrade = true;
    } else {
      // A non-101 answer to an upgrade or CONNECT request is an ordinary response.
      parser_.upgrade = 0;
      r.upgrade = false;
      // llhttp would read a Content-Length body on a 204 or 304, and cannot know about HEAD.
      if (expect_no_body_ || r.status / 100 == 1 || r.status == 204 || r.status == 304) {
        parser_.flags = skip_body_flags;
      }
    }
    if ((parser_.flags & F_SKIPBODY) != 0) {
      r.framing = BodyFraming::None;
    } else if ((parser_.flags & F_CHUNKED) != 0) {
      r.framing = BodyFraming::Chunked;
    } else if ((parser_.flags & F_CONTENT_LENGTH) != 0) {
      r.framing = BodyFraming::ContentLength;
      r.content_length = parser_.content_length;
    } else if (llhttp_message_needs_eof(&parser_) != 0) {
      r.framing = BodyFraming::UntilClose;
    } else {
      r.framing = BodyFraming::None;
    }
    r.keep_alive = llhttp_should_keep_alive(&parser_) != 0;
  }

  // Pause so feed() learns where the head ends; it then calls onHead() and resumes.
  pause_ = Pause::HeadComplete;
  return HPE_PAUSED;
}

int MessageParser::onBody(const char* at, size_t len) {
  callbacks_.onBody(at, len);
  return 0;
}

int MessageParser::onChunkHeader() {
  if (parser_.content_length != 0) return 0;
  // The last chunk: trailer fields follow through the same header callbacks. Pause so feed()
  // can start the line-ending scan exactly at the trailer section.
  in_trailers_ = true;
  current_headers_ = &trailers_;
  pause_ = Pause::TrailersStart;
  return HPE_PAUSED;
}

int MessageParser::onMessageComplete() {
  pause_ = Pause::MessageComplete;
  return HPE_PAUSED;
}

}  // namespace triaged::http
