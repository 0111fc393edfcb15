#include "connection.h"

#include <event2/buffer.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>

#include "server.h"

namespace fake_upstream {
namespace {

constexpr size_t kPieceBytes = 16 * 1024;        // one generated body piece
constexpr size_t kMaxHeadBytes = 64 * 1024;      // larger request heads get 431
constexpr size_t kMaxLineBytes = 4096;           // chunk-size and trailer lines
constexpr size_t kOutputHighWater = 256 * 1024;  // stop generating above this
constexpr size_t kOutputLowWater = 64 * 1024;    // ...and resume below this
constexpr size_t kInputHighWater = 1024 * 1024;  // stop reading pipelined input above this
constexpr uint64_t kLingerMs = 2000;             // longest wait for the peer after our FIN

// The generated body piece, shared by reference by every response (no copy per piece).
const std::array<char, kPieceBytes>& patternPiece() {
  static const std::array<char, kPieceBytes> piece = [] {
    std::array<char, kPieceBytes> p{};
    for (size_t i = 0; i < p.size(); ++i) p[i] = kPattern[i % kPattern.size()];
    return p;
  }();
  return piece;
}

void readTrampoline(bufferevent* /*bev*/, void* ctx) noexcept {
  static_cast<Connection*>(ctx)->onReadable();
}
void writeTrampoline(bufferevent* /*bev*/, void* ctx) noexcept {
  static_cast<Connection*>(ctx)->onWriteDrained();
}
void eventTrampoline(bufferevent* /*bev*/, short what, void* ctx) noexcept {
  static_cast<Connection*>(ctx)->onEvent(what);
}
void timerTrampoline(evutil_socket_t /*fd*/, short /*what*/, void* ctx) noexcept {
  static_cast<Connection*>(ctx)->onTimer();
}

std::optional<uint64_t> parseChunkSize(std::string_view line) {
  auto semi = line.find(';');
  std::string_view digits = line.substr(0, semi);
  if (digits.empty() || digits.size() > 15) return std::nullopt;
  uint64_t v = 0;
  auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), v, 16);
  if (ec != std::errc() || end != digits.data() + digits.size()) return std::nullopt;
  return v;
}

// Reads one CRLF-terminated line from `in`. Returns false when no full line is buffered yet.
bool readLine(evbuffer* in, std::string& line) {
  size_t n = 0;
  char* raw = evbuffer_readln(in, &n, EVBUFFER_EOL_CRLF_STRICT);
  if (raw == nullptr) return false;
  line.assign(raw, n);
  free(raw);  // NOLINT(cppcoreguidelines-no-malloc): evbuffer_readln hands out malloc'd memory
  return true;
}

}  // namespace

Connection::Connection(Server& server, event_base* base, evutil_socket_t fd)
    : server_(server),
      bev_(bufferevent_socket_new(base, fd, BEV_OPT_CLOSE_ON_FREE)),
      timer_(evtimer_new(base, timerTrampoline, this)) {
  if (!bev_ || !timer_) abort();
}

Connection::~Connection() = default;

void Connection::start() {
  bufferevent_setcb(bev_.get(), readTrampoline, writeTrampoline, eventTrampoline, this);
  bufferevent_setwatermark(bev_.get(), EV_READ, 0, kInputHighWater);
  bufferevent_setwatermark(bev_.get(), EV_WRITE, kOutputLowWater, 0);
  bufferevent_set_max_single_read(bev_.get(), 256 * 1024);
  bufferevent_set_max_single_write(bev_.get(), 256 * 1024);
  bufferevent_enable(bev_.get(), EV_READ | EV_WRITE);
  processInput();
}

evutil_socket_t Connection::fd() const { return bufferevent_getfd(bev_.get()); }

void Connection::armTimer(TimerKind kind, uint64_t ms) {
  timer_kind_ = kind;
  // The loop's cached time may be stale by the time spent in this callback; without a refresh
  // a delay could end a few milliseconds early.
  event_base_update_cache_time(event_get_base(timer_.get()));
  timeval tv{};
  tv.tv_sec = static_cast<time_t>(ms / 1000);
  tv.tv_usec = static_cast<suseconds_t>((ms % 1000) * 1000);
  evtimer_add(timer_.get(), &tv);
}

void Connection::cancelTimer() {
  timer_kind_ = TimerKind::None;
  evtimer_del(timer_.get());
}

// ---- bufferevent callbacks ----------------------------------------------------------------

void Connection::onReadable() {
  evbuffer* in = bufferevent_get_input(bev_.get());
  switch (state_) {
    case State::ReadHead:
    case State::ReadBody:
      processInput();
      break;
    case State::Echoing:
      echoInput();
      break;
    case State::Closing:
    case State::Lingering:
      evbuffer_drain(in, evbuffer_get_length(in));
      break;
    case State::Responding:  // pipelined input waits, bounded by the read high watermark
    case State::Dead:
      break;
  }
}

void Connection::onWriteDrained() {
  switch (state_) {
    case State::Closing:
      if (evbuffer_get_length(bufferevent_get_output(bev_.get())) == 0) onDrainedForClose();
      break;
    case State::Responding:
      if (pumping_ && timer_kind_ == TimerKind::None) pumpBody();
      break;
    case State::Echoing:
      if (echo_paused_) {
        echo_paused_ = false;
        bufferevent_enable(bev_.get(), EV_READ);
        echoInput();
      }
      break;
    default:
      break;
  }
}

void Connection::onEvent(short what) {
  if ((what & BEV_EVENT_ERROR) != 0) {
    destroy();
    return;
  }
  if ((what & BEV_EVENT_EOF) == 0) return;
  peer_eof_ = true;
  switch (state_) {
    case State::Responding:
      // A half-closed client still gets its answer; one that can never get more is let go.
      if (silent_ || waiting_stats_) destroy();
      break;
    case State::Echoing:
      closeAfterDrain(CloseKind::Fin);
      break;
    case State::Closing:
      break;
    default:
      destroy();
      break;
  }
}

void Connection::onTimer() {
  TimerKind kind = timer_kind_;
  timer_kind_ = TimerKind::None;
  switch (kind) {
    case TimerKind::KeepAlive:
      if (server_.idleCloseDelay().count() > 0) {
        // Decided to close: stop reading (what arrives now stays unread, so the close that
        // follows is an RST), and let the close reach the wire a little later.
        state_ = State::Closing;
        bufferevent_disable(bev_.get(), EV_READ);
        armTimer(TimerKind::IdleClose, static_cast<uint64_t>(server_.idleCloseDelay().count()));
        break;
      }
      closeAfterDrain(CloseKind::Fin);
      break;
    case TimerKind::IdleClose:
      destroy();
      break;
    case TimerKind::DelayHeaders:
      sendHead();
      break;
    case TimerKind::DelayBody:
    case TimerKind::ChunkDelay:
      pumpBody();
      break;
    case TimerKind::StatsWait:
      server_.removeStatsWaiter(this);
      waiting_stats_ = false;
      respondStats();
      break;
    case TimerKind::Linger:
      destroy();
      break;
    case TimerKind::None:
      break;
  }
}

// ---- request side ---------------------------------------------------------------------------

void Connection::processInput() {
  if (in_process_) return;  // finishResponse() inside the loop below: the loop carries on
  in_process_ = true;
  evbuffer* in = bufferevent_get_input(bev_.get());
  while (state_ == State::ReadHead || state_ == State::ReadBody) {
    if (state_ == State::ReadHead) {
      // Tolerate the empty lines RFC 9112 allows before a request line.
      while (evbuffer_get_length(in) >= 2) {
        char two[2];
        evbuffer_copyout(in, two, 2);
        if (two[0] != '\r' || two[1] != '\n') break;
        evbuffer_drain(in, 2);
      }
      size_t len = evbuffer_get_length(in);
      if (len == 0) {
        if (peer_eof_) {
          closeAfterDrain(CloseKind::Fin);
        } else if (timer_kind_ == TimerKind::None) {
          armTimer(TimerKind::KeepAlive, static_cast<uint64_t>(server_.keepaliveTimeout().count()));
        }
        break;
      }
      if (timer_kind_ == TimerKind::KeepAlive) cancelTimer();
      evbuffer_ptr end = evbuffer_search(in, "\r\n\r\n", 4, nullptr);
      if (end.pos < 0) {
        if (len > kMaxHeadBytes) reject(431, "request head too large");
        break;
      }
      auto head_len = static_cast<size_t>(end.pos);
      if (head_len + 4 > kMaxHeadBytes) {
        reject(431, "request head too large");
        break;
      }
      std::string text(head_len, '\0');
      evbuffer_remove(in, text.data(), head_len);
      evbuffer_drain(in, 4);
      HeadParse parsed = parseRequestHead(text);
      if (!parsed.ok) {
        reject(400, parsed.error);
        break;
      }
      onHead(std::move(parsed.head));
    } else if (consumeBody()) {
      onRequestComplete();
    } else {
      break;
    }
  }
  in_process_ = false;
}

void Connection::onHead(RequestHead head) {
  request_ = std::move(head);
  bool stats = request_.path() == "/__stats";
  if (close_on_next_request_ && !stats) {
    // The request arrived on a connection the previous script doomed: count it (it was
    // received), answer nothing, close. closeAfterDrain discards any body already buffered.
    ++requests_on_connection_;
    server_.countRequest();
    closeAfterDrain(*close_on_next_request_);
    return;
  }
  if (stats && requests_on_connection_ == 0) {
    control_ = true;
    server_.markControl();
  }
  ++requests_on_connection_;
  if (!stats) server_.countRequest();

  script_ = parseScript(request_.query());
  body_remaining_ = request_.content_length;
  chunk_state_ = ChunkState::Size;
  body_bytes_ = 0;
  body_hash_ = Fnv1a();
  request_trailers_.clear();
  if (!script_.error.empty()) {
    reject(400, "bad script: " + script_.error);
    return;
  }
  bool has_body = request_.framing != BodyFraming::None;
  if (has_body && script_.early_response) {
    // Answer now; the unread body is discarded by the lingering close.
    request_.keep_alive = false;
    state_ = State::Responding;
    beginResponse();
    return;
  }
  if (has_body && request_.expect_continue && !script_.no_continue) {
    static constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
    bufferevent_write(bev_.get(), kContinue.data(), kContinue.size());
  }
  if (has_body) {
    state_ = State::ReadBody;
  } else {
    onRequestComplete();
  }
}

bool Connection::consumeBody() {
  evbuffer* in = bufferevent_get_input(bev_.get());
  if (request_.framing == BodyFraming::Length) {
    uint64_t n = std::min<uint64_t>(body_remaining_, evbuffer_get_length(in));
    hashAndDrain(n);
    body_remaining_ -= n;
    return body_remaining_ == 0;
  }
  std::string line;
  for (;;) {
    switch (chunk_state_) {
      case ChunkState::Size: {
        if (!readLine(in, line)) {
          if (evbuffer_get_length(in) > kMaxLineBytes) reject(400, "chunk-size line too long");
          return false;
        }
        auto size = parseChunkSize(line);
        if (!size) {
          reject(400, "invalid chunk size");
          return false;
        }
        body_remaining_ = *size;
        chunk_state_ = *size == 0 ? ChunkState::Trailers : ChunkState::Data;
        break;
      }
      case ChunkState::Data: {
        uint64_t n = std::min<uint64_t>(body_remaining_, evbuffer_get_length(in));
        hashAndDrain(n);
        body_remaining_ -= n;
        if (body_remaining_ > 0) return false;
        chunk_state_ = ChunkState::DataEnd;
        break;
      }
      case ChunkState::DataEnd: {
        if (evbuffer_get_length(in) < 2) return false;
        char crlf[2];
        evbuffer_remove(in, crlf, 2);
        if (crlf[0] != '\r' || crlf[1] != '\n') {
          reject(400, "chunk data not followed by CRLF");
          return false;
        }
        chunk_state_ = ChunkState::Size;
        break;
      }
      case ChunkState::Trailers: {
        if (!readLine(in, line)) {
          if (evbuffer_get_length(in) > kMaxLineBytes) reject(400, "trailer line too long");
          return false;
        }
        if (line.empty()) return true;
        auto colon = line.find(':');
        if (colon == std::string::npos || colon == 0) {
          reject(400, "bad trailer");
          return false;
        }
        size_t v = colon + 1;
        while (v < line.size() && (line[v] == ' ' || line[v] == '\t')) ++v;
        request_trailers_.emplace_back(line.substr(0, colon), line.substr(v));
        break;
      }
    }
  }
}

void Connection::hashAndDrain(uint64_t n) {
  evbuffer* in = bufferevent_get_input(bev_.get());
  while (n > 0) {
    std::array<evbuffer_iovec, 16> vec{};
    int count = evbuffer_peek(in, static_cast<ev_ssize_t>(n), nullptr, vec.data(),
                              static_cast<int>(vec.size()));
    size_t done = 0;
    for (int i = 0; i < count && i < static_cast<int>(vec.size()) && done < n; ++i) {
      const auto& v = vec[static_cast<size_t>(i)];
      size_t take = std::min<uint64_t>(v.iov_len, n - done);
      body_hash_.update(static_cast<const unsigned char*>(v.iov_base), take);
      done += take;
    }
    evbuffer_drain(in, done);
    body_bytes_ += done;
    n -= done;
  }
}

void Connection::onRequestComplete() {
  state_ = State::Responding;
  beginResponse();
}

// ---- response side --------------------------------------------------------------------------

void Connection::beginResponse() {
  waiting_stats_ = false;
  silent_ = false;
  close_after_ = false;
  fin_after_ = false;
  pumping_ = false;
  out_chunked_ = false;
  use_text_ = true;
  text_body_.clear();
  body_sent_ = 0;

  std::string_view path = request_.path();
  if (path == "/__stats") {
    beginStats();
    return;
  }
  if (path == "/ws" && request_.websocket_upgrade) {
    static constexpr std::string_view kSwitch =
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n";
    bufferevent_write(bev_.get(), kSwitch.data(), kSwitch.size());
    state_ = State::Echoing;
    echoInput();
    return;
  }
  if (path == "/echo") {
    text_body_ = echoText();
    body_total_ = text_body_.size();
  } else if (script_.body) {
    text_body_ = *script_.body;
    body_total_ = text_body_.size();
  } else if (script_.size) {
    use_text_ = false;
    body_total_ = *script_.size;
  } else {
    text_body_ = "ok\n";
    body_total_ = text_body_.size();
  }
  if (script_.delay_headers_ms > 0) {
    armTimer(TimerKind::DelayHeaders, script_.delay_headers_ms);
  } else {
    sendHead();
  }
}

void Connection::beginStats() {
  if (!statsConditionHolds()) {
    waiting_stats_ = true;
    server_.addStatsWaiter(this);
    armTimer(TimerKind::StatsWait, script_.timeout_ms);
    return;
  }
  respondStats();
}

bool Connection::statsConditionHolds() const {
  const Stats& s = server_.stats();
  return (!script_.wait_connections || *script_.wait_connections == s.connections) &&
         (!script_.wait_requests || *script_.wait_requests == s.requests) &&
         (!script_.wait_open || *script_.wait_open == s.open);
}

void Connection::onStatsChanged() {
  if (state_ != State::Responding || !waiting_stats_ || !statsConditionHolds()) return;
  server_.removeStatsWaiter(this);
  waiting_stats_ = false;
  cancelTimer();
  respondStats();
}

void Connection::respondStats() {
  const Stats& s = server_.stats();
  char json[160];
  int n = snprintf(json, sizeof json,
                   "{\"connections\":%" PRIu64 ",\"requests\":%" PRIu64 ",\"open\":%" PRIu64 "}",
                   s.connections, s.requests, s.open);
  text_body_.assign(json, static_cast<size_t>(n));
  body_total_ = text_body_.size();
  use_text_ = true;
  script_ = Script();
  script_.headers.emplace_back("Content-Type", "application/json");
  sendHead();
}

void Connection::sendHead() {
  evbuffer* out = bufferevent_get_output(bev_.get());
  switch (script_.action) {
    case Action::CloseBeforeHeaders:
      closeAfterDrain(CloseKind::Fin);
      return;
    case Action::ResetBeforeHeaders:
      closeAfterDrain(CloseKind::Reset);
      return;
    case Action::Hang:
      silent_ = true;
      if (peer_eof_) destroy();
      return;
    case Action::PartialHeaders:
      evbuffer_add_printf(out, "HTTP/1.1 200 OK\r\nContent-Le");
      closeAfterDrain(CloseKind::Fin);
      return;
    case Action::Garbage:
      evbuffer_add_printf(out, "NOT-HTTP garbage\r\n\r\n");
      closeAfterDrain(CloseKind::Fin);
      return;
    default:
      break;
  }

  int status = script_.status;
  bool head_method = request_.method == "HEAD";
  body_allowed_ = !head_method && status >= 200 && status != 204 && status != 304;
  close_after_ =
      !request_.keep_alive || script_.close || script_.close_delimited || script_.early_response;
  fin_after_ = script_.action == Action::BadContentLength;

  std::string head;
  head.reserve(256);
  if (script_.interim != 0) {
    head += "HTTP/1.1 " + std::to_string(script_.interim) + " " +
            std::string(reasonPhrase(script_.interim)) + "\r\n";
    for (const auto& [name, value] : script_.interim_headers) head += name + ": " + value + "\r\n";
    head += "\r\n";
  }
  head += "HTTP/1.1 ";
  head += std::to_string(status);
  head += ' ';
  head += script_.reason.empty() ? std::string(reasonPhrase(status)) : script_.reason;
  head += "\r\n";
  if (script_.action == Action::BadContentLength) {
    head += "Content-Length: abc\r\n";
  } else if (script_.close_delimited) {
    // Framed by the close alone.
  } else if (script_.chunked) {
    out_chunked_ = body_allowed_;
    head += "Transfer-Encoding: chunked\r\n";
  } else if (status >= 200 && status != 204 && status != 304) {
    head += "Content-Length: " + std::to_string(body_total_) + "\r\n";
  }
  bool has_type = false;
  for (const auto& [name, value] : script_.headers) {
    has_type = has_type || equalsIgnoreCase(name, "Content-Type");
    head += name + ": " + value + "\r\n";
  }
  if (!has_type && status != 204 && status != 304) head += "Content-Type: text/plain\r\n";
  if (script_.chunked && !script_.trailers.empty()) {
    head += "Trailer: ";
    for (size_t i = 0; i < script_.trailers.size(); ++i) {
      head += (i > 0 ? ", " : "") + script_.trailers[i].first;
    }
    head += "\r\n";
  }
  if (script_.action == Action::HugeHeaders) {
    uint64_t want = script_.after.value_or(64 * 1024);
    uint64_t added = 0;
    for (int i = 0; added < want; ++i) {
      std::string line = "X-Huge-" + std::to_string(i) + ": ";
      uint64_t fill = std::min<uint64_t>(1000, want - added);
      line.append(static_cast<size_t>(fill), 'h');
      line += "\r\n";
      added += line.size();
      head += line;
    }
  }
  if (close_after_) {
    head += "Connection: close\r\n";
  } else if (request_.version == "HTTP/1.0") {
    head += "Connection: keep-alive\r\n";
  }
  head += "\r\n";
  evbuffer_add(out, head.data(), head.size());

  if (!body_allowed_) {
    finishResponse();
    return;
  }
  bool mid_body = script_.action == Action::CloseMidBody ||
                  script_.action == Action::ResetMidBody || script_.action == Action::StallBody;
  body_limit_ =
      mid_body ? std::min(body_total_, script_.after.value_or(body_total_ / 2)) : body_total_;
  if (script_.delay_body_ms > 0) {
    pumping_ = true;
    armTimer(TimerKind::DelayBody, script_.delay_body_ms);
  } else {
    startBody();
  }
}

void Connection::startBody() {
  pumping_ = true;
  pumpBody();
}

void Connection::pumpBody() {
  evbuffer* out = bufferevent_get_output(bev_.get());
  while (body_sent_ < body_limit_ && evbuffer_get_length(out) < kOutputHighWater) {
    auto n = static_cast<size_t>(std::min<uint64_t>(kPieceBytes, body_limit_ - body_sent_));
    if (out_chunked_) evbuffer_add_printf(out, "%zx\r\n", n);
    if (use_text_) {
      evbuffer_add(out, text_body_.data() + body_sent_, n);
    } else {
      evbuffer_add_reference(out, patternPiece().data(), n, nullptr, nullptr);
    }
    if (out_chunked_) evbuffer_add(out, "\r\n", 2);
    body_sent_ += n;
    if (script_.chunk_delay_ms > 0 && body_sent_ < body_limit_) {
      armTimer(TimerKind::ChunkDelay, script_.chunk_delay_ms);
      return;
    }
  }
  if (body_sent_ == body_limit_) {
    pumping_ = false;
    bodyDone();
  }
  // Otherwise onWriteDrained() resumes below the low watermark.
}

void Connection::bodyDone() {
  switch (script_.action) {
    case Action::CloseMidBody:
      closeAfterDrain(CloseKind::Fin);
      return;
    case Action::ResetMidBody:
      closeAfterDrain(CloseKind::Reset);
      return;
    case Action::StallBody:
      silent_ = true;
      if (peer_eof_) destroy();
      return;
    default:
      break;
  }
  if (out_chunked_) {
    std::string last = "0\r\n";
    for (const auto& [name, value] : script_.trailers) last += name + ": " + value + "\r\n";
    last += "\r\n";
    bufferevent_write(bev_.get(), last.data(), last.size());
  }
  finishResponse();
}

void Connection::finishResponse() {
  if (script_.action == Action::ResetAfterResponse) {
    closeAfterDrain(CloseKind::Reset);
    return;
  }
  if (script_.early_response && script_.abort_unread) {
    closeAfterDrain(CloseKind::Abort);
    return;
  }
  if (close_after_ || fin_after_ || script_.action == Action::CloseAfterResponse) {
    closeAfterDrain(CloseKind::Fin);
    return;
  }
  if (script_.action == Action::CloseOnNextRequest) close_on_next_request_ = CloseKind::Fin;
  if (script_.action == Action::ResetOnNextRequest) close_on_next_request_ = CloseKind::Reset;
  state_ = State::ReadHead;
  text_body_.clear();
  processInput();
}

void Connection::reject(int status, const std::string& why) {
  std::string body = why + "\n";
  std::string head = "HTTP/1.1 " + std::to_string(status) + " " +
                     std::string(reasonPhrase(status)) +
                     "\r\nContent-Type: text/plain\r\nConnection: close\r\nContent-Length: " +
                     std::to_string(body.size()) + "\r\n\r\n";
  if (state_ == State::Responding && waiting_stats_) server_.removeStatsWaiter(this);
  bufferevent_write(bev_.get(), head.data(), head.size());
  bufferevent_write(bev_.get(), body.data(), body.size());
  closeAfterDrain(CloseKind::Fin);
}

// ---- closing --------------------------------------------------------------------------------

void Connection::closeAfterDrain(CloseKind kind) {
  if (state_ == State::Closing || state_ == State::Lingering || state_ == State::Dead) return;
  cancelTimer();
  state_ = State::Closing;
  close_kind_ = kind;
  evbuffer* in = bufferevent_get_input(bev_.get());
  evbuffer_drain(in, evbuffer_get_length(in));
  bufferevent_setwatermark(bev_.get(), EV_WRITE, 0, 0);
  if (evbuffer_get_length(bufferevent_get_output(bev_.get())) == 0) onDrainedForClose();
}

void Connection::onDrainedForClose() {
  if (close_kind_ == CloseKind::Reset) {
    // SO_LINGER {1, 0}: close() sends RST instead of FIN.
    linger lin{};
    lin.l_onoff = 1;
    lin.l_linger = 0;
    setsockopt(fd(), SOL_SOCKET, SO_LINGER, &lin, sizeof lin);
    destroy();
    return;
  }
  if (peer_eof_ || close_kind_ == CloseKind::Abort) {
    // Abort: closing with the request body unread in the kernel makes it send RST.
    destroy();
    return;
  }
  // FIN now, but keep reading: closing with unread input would turn the FIN into an RST.
  shutdown(fd(), SHUT_WR);
  state_ = State::Lingering;
  bufferevent_enable(bev_.get(), EV_READ);
  armTimer(TimerKind::Linger, kLingerMs);
}

void Connection::destroy() {
  if (state_ == State::Dead) return;
  if (waiting_stats_) server_.removeStatsWaiter(this);
  waiting_stats_ = false;
  state_ = State::Dead;
  timer_kind_ = TimerKind::None;
  timer_.reset();
  bev_.reset();  // closes the socket now; libevent defers the free past this callback
  server_.release(this, control_);
}

// ---- /ws and /echo --------------------------------------------------------------------------

void Connection::echoInput() {
  evbuffer* in = bufferevent_get_input(bev_.get());
  evbuffer* out = bufferevent_get_output(bev_.get());
  evbuffer_add_buffer(out, in);
  if (evbuffer_get_length(out) > kOutputHighWater) {
    echo_paused_ = true;
    bufferevent_disable(bev_.get(), EV_READ);
  }
}

std::string Connection::echoText() const {
  std::string t;
  t += "method " + request_.method + "\n";
  t += "target " + request_.target + "\n";
  t += "version " + request_.version + "\n";
  for (const auto& [name, value] : request_.headers) t += "header " + name + ": " + value + "\n";
  char hash[17];
  snprintf(hash, sizeof hash, "%016" PRIx64, body_hash_.value());
  t += "body_bytes " + std::to_string(body_bytes_) + "\n";
  t += std::string("body_fnv1a ") + hash + "\n";
  switch (request_.framing) {
    case BodyFraming::None:
      t += "body_framing none\n";
      break;
    case BodyFraming::Length:
      t += "body_framing length\n";
      break;
    case BodyFraming::Chunked:
      t += "body_framing chunked\n";
      break;
  }
  for (const auto& [name, value] : request_trailers_) t += "trailer " + name + ": " + value + "\n";
  return t;
}

}  // namespace fake_upstream
