#include "triaged/http/message_parser.h"

#include <llhttp.h>

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>

namespace triaged::http {
namespace {

// Our own error codes, for the strictness checks llhttp's strict mode does not make itself.
// Each one was found by feeding the vector to llhttp 8.1 and watching it pass (see
// tests/unit/http/message_parser_test.cc).
constexpr std::string_view kHeaderTooLarge = "TRIAGED_HEADER_TOO_LARGE";
constexpr std::string_view kTrailersTooLarge = "TRIAGED_TRAILERS_TOO_LARGE";
constexpr std::string_view kObsFold = "TRIAGED_OBS_FOLD";
constexpr std::string_view kBareLf = "TRIAGED_BARE_LF";
constexpr std::string_view kInvalidHeaderName = "TRIAGED_INVALID_HEADER_NAME";
constexpr std::string_view kMissingHost = "TRIAGED_MISSING_HOST";
constexpr std::string_view kInvalidHost = "TRIAGED_INVALID_HOST";
constexpr std::string_view kInvalidTarget = "TRIAGED_INVALID_TARGET";
constexpr std::string_view kInvalidStatus = "TRIAGED_INVALID_STATUS";
constexpr std::string_view kInvalidRequestLine = "TRIAGED_INVALID_REQUEST_LINE";
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

bool isOws(char c) { return c == ' ' || c == '\t'; }

// The request-target forms a reverse proxy serves (RFC 9112 3.2): origin-form, absolute-form with
// an http(s) authority and no userinfo (RFC 9110 4.2.1, 4.2.4), "*" for OPTIONS; no fragment,
// which is not part of any form. CONNECT (authority-form) is answered by the session.
bool acceptableTarget(const TargetParts& parts, std::string_view target, llhttp_method_t method) {
  if (target.find('#') != std::string_view::npos) return false;
  switch (parts.form) {
    case TargetParts::Form::Origin:
      return true;
    case TargetParts::Form::Absolute:
      return (equalsIgnoreCase(parts.scheme, "http") || equalsIgnoreCase(parts.scheme, "https")) &&
             !parts.has_userinfo && !parts.authority.empty() && isValidHost(parts.authority);
    case TargetParts::Form::Asterisk:
      return method == HTTP_OPTIONS;
    case TargetParts::Form::Other:
      return false;
  }
  return false;
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
  static int onVersion(llhttp_t* p, const char* at, size_t len) {
    return self(p).onVersion(at, len);
  }
  static int onHeaderField(llhttp_t* p, const char* at, size_t len) {
    return self(p).onHeaderField(at, len);
  }
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

// The head's fields are not taken from llhttp's callbacks: splitHead() reads them from the
// head's bytes once llhttp has validated them all, which costs a third of three callbacks per
// field (callgrind). The trailer section has no such copy, so there llhttp reports its fields.
llhttp_settings_t makeSettings(bool with_fields) {
  llhttp_settings_t s;
  llhttp_settings_init(&s);
  s.on_message_begin = &ParserTrampolines::onMessageBegin;
  s.on_url = &ParserTrampolines::onUrl;
  s.on_status = &ParserTrampolines::onStatus;
  s.on_version = &ParserTrampolines::onVersion;
  if (with_fields) {
    s.on_header_field = &ParserTrampolines::onHeaderField;
    s.on_header_value = &ParserTrampolines::onHeaderValue;
    s.on_header_value_complete = &ParserTrampolines::onHeaderValueComplete;
  }
  s.on_headers_complete = &ParserTrampolines::onHeadersComplete;
  s.on_body = &ParserTrampolines::onBody;
  s.on_chunk_header = &ParserTrampolines::onChunkHeader;
  s.on_message_complete = &ParserTrampolines::onMessageComplete;
  return s;
}

// llhttp keeps a pointer to its settings for the parser's whole life; it reads it at every
// callback, so the trailer section switches to the second one.
const llhttp_settings_t kHeadSettings = makeSettings(false);
const llhttp_settings_t kTrailerSettings = makeSettings(true);

void useSettings(llhttp_t& parser, const llhttp_settings_t& settings) {
  parser.settings = const_cast<llhttp_settings_t*>(&settings);  // llhttp only reads it
}

// A typical head fits the arena from the start; one that needed more than kArenaKeep is given
// back after its message, so one huge head does not pin memory on an idle keep-alive connection.
constexpr size_t kArenaStart = 1024;
constexpr size_t kArenaKeep = 16 * 1024;

}  // namespace

MessageParser::MessageParser(Type type, ParserCallbacks& callbacks, uint64_t max_head_bytes)
    : MessageParser(type, max_head_bytes) {
  callbacks_ = &callbacks;
}

MessageParser::MessageParser(Type type, uint64_t max_head_bytes)
    : type_(type), max_head_bytes_(max_head_bytes) {
  llhttp_init(&parser_, type == Type::Request ? HTTP_REQUEST : HTTP_RESPONSE, &kHeadSettings);
  // llhttp 8 refuses every version but 0.9, 1.0, 1.1 and 2.0; the version is checked in
  // finishHead() instead, so that a later HTTP/1.x is read as 1.1 (RFC 9110 2.5). The flag
  // changes nothing else (llhttp 8.1 has no setter for it; llhttp_reset keeps the flags).
  parser_.lenient_flags |= LENIENT_VERSION;
  parser_.data = this;
  head_arena_.reserve(kArenaStart);
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
  if (!head_complete_) beginRawHead(p);
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
        // The rest of the head arrives in another buffer: keep what this one holds of it.
        copyRawHead(end);
      }
      return {Status::NeedMore, len};
    }

    const char* pos = llhttp_get_error_pos(&parser_);
    if (err == HPE_PAUSED) {
      const Pause why = pause_;
      pause_ = Pause::None;
      switch (why) {
        case Pause::HeadComplete:
          head_bytes_ += static_cast<uint64_t>(pos - p);
          if (head_bytes_ > max_head_bytes_) {
            fail(ParseErrorKind::HeaderTooLarge, kHeaderTooLarge, "message head over the limit");
            return failFeed(data, len, pos);
          }
          // Before llhttp reads on: finishHead() sets the flags that decide the body's framing.
          copyRawHead(pos);
          if (finishHead() != 0) return failFeed(data, len, pos);
          callbacks_->onHead();
          break;
        case Pause::TrailersStart:
          // The trailer section starts right after the last chunk's CRLF.
          scan_prev_ = '\n';
          break;
        case Pause::MessageComplete:
          if (in_trailers_ && !scanLineEndings(p, pos)) return failFeed(data, len, pos);
          if (isUpgrade()) {
            state_ = State::Upgraded;
            callbacks_->onMessageComplete(trailers_);
            return {Status::Upgrade, static_cast<size_t>(pos - data)};
          }
          state_ = State::AwaitingResume;
          callbacks_->onMessageComplete(trailers_);
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
      callbacks_->onMessageComplete(trailers_);
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
  useSettings(parser_, kHeadSettings);
  message_started_ = false;
  head_complete_ = false;
  in_trailers_ = false;
  field_open_ = false;
  scan_prev_ = 0;
  head_bytes_ = 0;
  trailer_bytes_ = 0;
  request_.reset();
  response_.reset();
  trailers_.clear();
  fields_.clear();
  target_ = {};
  version_ = {};
  for (std::string* a : {&head_arena_, &trailer_arena_}) {
    if (a->capacity() > kArenaKeep) {
      std::string().swap(*a);
      a->reserve(kArenaStart);
    }
    a->clear();
  }
}

void MessageParser::record(Span& span, const char* at, size_t len) {
  // The pieces of one name or value arrive back to back (split only where a buffer ends), so
  // they stay contiguous in either arena.
  if (in_trailers_) {
    if (span.length == 0) span.offset = static_cast<uint32_t>(trailer_arena_.size());
    trailer_arena_.append(at, len);
  } else if (span.length == 0) {
    span.offset = raw_base_ + static_cast<uint32_t>(at - raw_from_);
  }
  span.length += static_cast<uint32_t>(len);
}

void MessageParser::beginRawHead(const char* from) {
  raw_from_ = from;
  raw_base_ = static_cast<uint32_t>(head_arena_.size());
}

void MessageParser::copyRawHead(const char* to) {
  // One copy of the head's bytes, CRLFs and all, instead of one per piece: a typical head is a
  // few hundred bytes, and the head byte limit bounds it.
  head_arena_.append(raw_from_, static_cast<size_t>(to - raw_from_));
  beginRawHead(to);
}

void MessageParser::materialize(const std::string& arena, Headers& out) {
  out.clear();
  out.reserve(fields_.size());
  for (const FieldSpans& f : fields_) {
    const std::string_view name = view(arena, f.name);
    // llhttp skips a value's leading whitespace but keeps the trailing OWS, which is not part
    // of it. Its strict mode already refuses control bytes (NUL, DEL, ...) in values ("Invalid
    // header value char"); the value vectors in message_parser_test.cc hold it to that.
    std::string_view value = view(arena, f.value);
    while (!value.empty() && isOws(value.back())) value.remove_suffix(1);
    out.push_back(Header{name, value, static_cast<uint8_t>(knownHeader(name))});
  }
  fields_.clear();
}

int MessageParser::splitHead(uint32_t head_end, Headers& out, std::string_view& raw_fields) {
  // llhttp (strict) has checked every byte of the head: field names are tokens, values hold no
  // CR, NUL or other control byte, a lone CR is refused. What it still lets through are the line
  // ends scanLineEndings() refuses (a bare LF, obs-fold) and an empty name: those are checked
  // here, on the way through the lines.
  const char* const base = head_arena_.data();
  const char* const end = base + head_end;
  const auto lineEndOk = [&](const char* lf) {
    return this->lineEndOk(lf, lf != base ? lf[-1] : '\0', end);
  };
  const auto nextLf = [end](const char* from) {
    const void* lf = std::memchr(from, '\n', static_cast<size_t>(end - from));
    return static_cast<const char*>(lf);
  };
  // The start line (and any empty line before a request's) ends at the first LF behind its last
  // part llhttp located: the version of a request, the version or reason of a status line.
  const uint32_t last_part =
      std::max(version_.offset + version_.length, target_.offset + target_.length);
  const char* p = base;
  const char* const start_line_lf = nextLf(base + last_part);
  if (start_line_lf == nullptr) {
    return fail(ParseErrorKind::BadMessage, kInternal, "head without a line end");
  }
  for (const char* lf = nextLf(p); lf != nullptr && lf <= start_line_lf; lf = nextLf(lf + 1)) {
    if (!lineEndOk(lf)) return -1;
  }
  p = start_line_lf + 1;
  const char* const fields_begin = p;
  out.clear();
  while (true) {
    const char* lf = p < end ? nextLf(p) : nullptr;
    if (lf == nullptr) {
      return fail(ParseErrorKind::BadMessage, kInternal, "head without its empty line");
    }
    if (!lineEndOk(lf)) return -1;
    const char* const cr = lf - 1;
    if (cr == p) {  // the empty line: the head ends here
      raw_fields = std::string_view(fields_begin, static_cast<size_t>(p - fields_begin));
      break;
    }
    const auto* colon = static_cast<const char*>(std::memchr(p, ':', static_cast<size_t>(cr - p)));
    // llhttp 8.1 accepts ": value"; a line without a colon it refuses itself.
    if (colon == nullptr || colon == p) return failEmptyName();
    const std::string_view name(p, static_cast<size_t>(colon - p));
    const char* v = colon + 1;
    const char* v_end = cr;
    while (v != v_end && isOws(*v)) ++v;
    while (v_end != v && isOws(v_end[-1])) --v_end;
    out.push_back(Header{name, std::string_view(v, static_cast<size_t>(v_end - v)),
                         static_cast<uint8_t>(knownHeader(name))});
    p = lf + 1;
  }
  return 0;
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

int MessageParser::checkFieldLimit(const char* at, size_t len) {
  if (!in_trailers_) return checkHeadLimit(at + len);
  trailer_bytes_ += len;
  if (trailer_bytes_ > max_head_bytes_) {
    return fail(ParseErrorKind::HeaderTooLarge, kTrailersTooLarge, "trailers over the limit");
  }
  return 0;
}

bool MessageParser::scanLineEndings(const char* from, const char* to) {
  // llhttp 8.1 strict mode refuses a bare CR anywhere (the "bare CR" vectors of
  // message_parser_test.cc), but still accepts obs-fold, a bare LF ending the start line or the
  // head, and bare LF in the trailer section. Two parsers disagreeing on line ends is the root
  // of request smuggling, so only CRLF is a line end here. Only the few LFs of a head need a
  // look: each must follow a CR and must not be followed by SP or HTAB.
  if (from == to) return true;
  if (scan_prev_ == '\n' && isOws(*from)) {
    fail(ParseErrorKind::BadMessage, kObsFold, "obsolete line folding");
    return false;
  }
  const char* p = from;
  while (const auto* lf =
             static_cast<const char*>(std::memchr(p, '\n', static_cast<size_t>(to - p)))) {
    if (!lineEndOk(lf, lf != from ? lf[-1] : scan_prev_, to)) return false;
    p = lf + 1;
  }
  scan_prev_ = to[-1];
  return true;
}

bool MessageParser::lineEndOk(const char* lf, char before, const char* end) {
  if (before != '\r') {
    fail(ParseErrorKind::BadMessage, kBareLf, "line ended by LF without CR");
    return false;
  }
  if (lf + 1 != end && isOws(lf[1])) {
    fail(ParseErrorKind::BadMessage, kObsFold, "obsolete line folding");
    return false;
  }
  return true;
}

// llhttp callbacks

int MessageParser::onMessageBegin() {
  message_started_ = true;
  return 0;
}

int MessageParser::onUrl(const char* at, size_t len) {
  record(target_, at, len);
  return checkHeadLimit(at + len);
}

int MessageParser::onStatus(const char* at, size_t len) {
  record(target_, at, len);
  return checkHeadLimit(at + len);
}

int MessageParser::onVersion(const char* at, size_t len) {
  // Only located (it brings the version into the head's copy): where it starts tells whether
  // the request line had single spaces.
  record(version_, at, len);
  return checkHeadLimit(at + len);
}

int MessageParser::onHeaderField(const char* at, size_t len) {
  if (!field_open_) {
    fields_.emplace_back();
    field_open_ = true;
  }
  record(fields_.back().name, at, len);
  return checkFieldLimit(at, len);
}

int MessageParser::onHeaderValue(const char* at, size_t len) {
  if (!field_open_ || fields_.back().name.length == 0) return failEmptyName();
  record(fields_.back().value, at, len);
  return checkFieldLimit(at, len);
}

int MessageParser::onHeaderValueComplete() {
  // The end of a field. llhttp 8.1 accepts an empty field name (": value"): an empty name span,
  // or none at all, came before this value. (Its strict mode refuses every byte that is not a tchar
  // in a name: HPE_INVALID_HEADER_TOKEN, the name vectors in message_parser_test.cc. Without
  // on_header_field_complete, two callbacks fewer per field.)
  if (!field_open_ || fields_.back().name.length == 0) return failEmptyName();
  field_open_ = false;
  return 0;
}

int MessageParser::failEmptyName() {
  return fail(ParseErrorKind::BadMessage, kInvalidHeaderName, "empty header name");
}

int MessageParser::onHeadersComplete() {
  // Pause so feed() learns where the head ends; it then finishes the head (finishHead), calls
  // onHead() and resumes.
  head_complete_ = true;
  pause_ = Pause::HeadComplete;
  return HPE_PAUSED;
}

int MessageParser::finishHead() {
  const uint8_t major = parser_.http_major;
  if (major != 1) {
    return fail(ParseErrorKind::BadMessage, kUnsupportedVersion, "only HTTP/1.x");
  }
  // RFC 9110 2.5: a message of a later minor version is processed as the highest one we
  // implement. From here on HTTP/1.2 is HTTP/1.1 in every respect (Host, keep-alive, framing),
  // as in nginx and HAProxy; what triaged sends on is 1.1 anyway.
  const uint8_t minor = std::min<uint8_t>(parser_.http_minor, 1);

  Headers& headers = type_ == Type::Request ? request_.headers : response_.headers;
  const auto head_end = static_cast<uint32_t>(head_arena_.size());
  // Before splitHead(): it may add to the arena, which would move the views made there.
  const Span path = type_ == Type::Request ? originFormSpan() : Span{};
  std::string_view raw_fields;
  if (splitHead(head_end, headers, raw_fields) != 0) return -1;
  if (type_ == Type::Response) response_.raw_fields = raw_fields;
  if (type_ == Type::Request) {
    request_.target = view(head_arena_, target_);
  } else {
    response_.reason = view(head_arena_, target_);
  }
  int host_count = 0;
  int content_length_count = 0;
  int te_count = 0;
  const Header* host = nullptr;
  const Header* te = nullptr;
  const Header* upgrade = nullptr;
  const Header* content_length = nullptr;
  bool expect_continue = false;
  for (const Header& h : headers) {
    switch (kindOf(h)) {
      case KnownHeader::Host:
        ++host_count;
        host = &h;
        break;
      case KnownHeader::ContentLength:
        ++content_length_count;
        content_length = &h;
        break;
      case KnownHeader::TransferEncoding:
        ++te_count;
        te = &h;
        break;
      case KnownHeader::Expect:
        if (equalsIgnoreCase(h.value, "100-continue")) expect_continue = true;
        break;
      case KnownHeader::Upgrade:
        upgrade = &h;
        break;
      default:
        break;
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
    // llhttp skips any run of spaces between the request line's parts; RFC 9112 3 has exactly
    // one, and a parser that splits "GET  /x" differently reads another target.
    const std::string_view raw = head_arena_;
    const size_t after_target = size_t{target_.offset} + target_.length;
    if (target_.offset < 2 || raw[target_.offset - 1] != ' ' || raw[target_.offset - 2] == ' ' ||
        version_.offset != after_target + 6 || raw.substr(after_target, 6) != " HTTP/") {
      return fail(ParseErrorKind::BadMessage, kInvalidRequestLine,
                  "request line parts not separated by single spaces");
    }
    // RFC 9112 3.2: a Host that is not uri-host[:port] (e.g. "user@up") gets 400.
    if (host != nullptr && !isValidHost(host->value)) {
      return fail(ParseErrorKind::BadMessage, kInvalidHost, "Host is not host[:port]");
    }
    const TargetParts parts = splitRequestTarget(r.target);
    const auto method = static_cast<llhttp_method_t>(parser_.method);
    if (method != HTTP_CONNECT && !acceptableTarget(parts, r.target, method)) {
      return fail(ParseErrorKind::BadMessage, kInvalidTarget,
                  "request-target is not origin-form, http(s) absolute-form or OPTIONS *");
    }
    // RFC 9112 3.2.2: an absolute-form target's authority replaces Host, for routing and for
    // the upstream alike.
    if (parts.form == TargetParts::Form::Absolute) {
      r.authority = parts.authority;
    } else if (host != nullptr) {
      r.authority = host->value;
    }
    const bool is_connect = parser_.method == HTTP_CONNECT;
    r.path = is_connect ? std::string_view{} : view(head_arena_, path);
    // RFC 9112 6.1: Transfer-Encoding in a 1.0 message means its framing cannot be trusted.
    if (minor == 0 && te != nullptr) {
      return fail(ParseErrorKind::BadMessage, kTeInHttp10, "Transfer-Encoding in HTTP/1.0");
    }
    // Only WebSocket is tunnelled. An h2c upgrade the upstream accepted would make triaged a
    // blind tunnel to an HTTP/2 peer that serves any path (h2c smuggling; RFC 9113 3.1 retired
    // it); a server may ignore Upgrade (RFC 9110 7.8), so such a request goes on as a plain
    // one, its Upgrade dropped as hop-by-hop.
    if (!is_connect && parser_.upgrade != 0 &&
        (upgrade == nullptr || !equalsIgnoreCase(upgrade->value, "websocket"))) {
      parser_.upgrade = 0;
    }
    r.upgrade = parser_.upgrade != 0;  // Connection: upgrade + Upgrade: websocket, or CONNECT
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
    r.expect_continue = expect_continue;
    r.keep_alive = llhttp_should_keep_alive(&parser_) != 0;
  } else {
    ResponseHead& r = response_;
    r.status = parser_.status_code;
    // llhttp reads any three digits; "099" or "600" is no status (RFC 9110 15) and must reach
    // neither the client nor the pool.
    if (r.status < 100 || r.status > 599) {
      return fail(ParseErrorKind::BadMessage, kInvalidStatus, "status code outside 100-599");
    }
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

  return 0;
}

MessageParser::Span MessageParser::originFormSpan() {
  const std::string_view target = view(head_arena_, target_);
  const TargetParts parts = splitRequestTarget(target);
  const auto offset = static_cast<uint32_t>(parts.path.data() - head_arena_.data());
  const auto length = static_cast<uint32_t>(parts.path.size());
  if (parts.form != TargetParts::Form::Absolute || (length > 0 && parts.path.front() == '/')) {
    return Span{parts.path.empty() ? target_.offset : offset, length};
  }
  // RFC 9112 3.2.1: an empty path goes as "/", which the target does not hold: add "/" and the
  // query (if any) behind the head's bytes.
  const auto at = static_cast<uint32_t>(head_arena_.size());
  head_arena_.reserve(head_arena_.size() + 1 + length);
  head_arena_.push_back('/');
  head_arena_.append(head_arena_.data() + (length > 0 ? offset : 0), length);
  return Span{at, length + 1};
}

int MessageParser::onBody(const char* at, size_t len) {
  callbacks_->onBody(at, len);
  return 0;
}

int MessageParser::onChunkHeader() {
  if (parser_.content_length != 0) return 0;
  // The last chunk: trailer fields follow through the same header callbacks. Pause so feed()
  // can start the line-ending scan exactly at the trailer section.
  in_trailers_ = true;
  useSettings(parser_, kTrailerSettings);
  pause_ = Pause::TrailersStart;
  return HPE_PAUSED;
}

int MessageParser::onMessageComplete() {
  if (in_trailers_) materialize(trailer_arena_, trailers_);
  pause_ = Pause::MessageComplete;
  return HPE_PAUSED;
}

}  // namespace triaged::http
