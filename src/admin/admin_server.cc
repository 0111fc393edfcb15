#include "triaged/admin/admin_server.h"

#include <unistd.h>

#include <chrono>
#include <stdexcept>

#include "triaged/http/header_rewrite.h"
#include "triaged/http/message_parser.h"
#include "triaged/net/connection.h"
#include "triaged/observe/openmetrics.h"

namespace triaged::admin {
namespace {

using std::chrono::milliseconds;

constexpr uint64_t kMaxHeadBytes = 16 * 1024;
// A request head must arrive within this; an idle keep-alive connection (a scraper between
// scrapes) is closed after kIdleTimeout; a reader that stops reading after kWriteTimeout.
constexpr milliseconds kHeaderTimeout{10'000};
constexpr milliseconds kIdleTimeout{60'000};
constexpr milliseconds kWriteTimeout{10'000};
constexpr std::string_view kAllow = "GET, HEAD";
constexpr std::string_view kText = "text/plain; charset=utf-8";

AdminServer::Reply text(int status, std::string body, bool close = false) {
  AdminServer::Reply r;
  r.status = status;
  r.content_type = std::string(kText);
  r.body = std::move(body);
  r.close = close;
  return r;
}

}  // namespace

// One admin client connection: parses requests one after another and answers each in order.
class AdminServer::Session final : public net::ConnectionCallbacks, public http::ParserCallbacks {
 public:
  Session(AdminServer& server, int fd)
      : server_(server),
        connection_(server.loop_, fd, this),
        parser_(http::MessageParser::Type::Request, *this, kMaxHeadBytes) {
    connection_.setTimeouts(kIdleTimeout, kWriteTimeout);
    connection_.setDeadline(server_.loop_.now() + kHeaderTimeout);
  }

  std::list<std::unique_ptr<Session>>::iterator position;

  void close() {
    if (closed_) return;
    closed_ = true;
    connection_.close();
    server_.onSessionClosed(*this);
  }

  // ConnectionCallbacks
  void onReadable() override { process(); }
  void onWriteDrained() override {
    if (closing_ && connection_.outputLength() == 0) close();
  }
  void onEvent(short, int) override { close(); }  // EOF, error, or a timeout

  // ParserCallbacks: requests to the admin port have no body worth reading.
  void onHead() override {}
  void onBody(const char*, size_t) override {}
  void onMessageComplete(const http::Headers&) override {}

 private:
  void process() {
    using S = http::MessageParser::Status;
    while (!closed_ && !closing_) {
      const std::string_view in = connection_.inputData();
      if (in.empty()) return;
      const auto r = parser_.feed(in.data(), in.size());
      connection_.consumeInput(r.consumed);
      if (r.status == S::NeedMore) {
        // A head begun: it must complete in time; a head cut off by bytes it never got hangs no
        // one for longer than kHeaderTimeout.
        if (parser_.headComplete() && !methodAllowed()) {
          respond(refusal());  // do not read a body we will not use
          return;
        }
        return;
      }
      if (r.status == S::Error) {
        const bool too_large = parser_.error().kind == http::ParseErrorKind::HeaderTooLarge;
        respond(text(too_large ? 431 : 400,
                     std::string(too_large ? "request header too large\n" : "bad request\n"),
                     /*close=*/true));
        return;
      }
      // A complete request (MessageComplete), or an upgrade head (CONNECT, Upgrade): no tunnel
      // here, so it is answered and the connection closes.
      const bool upgrade = r.status == S::Upgrade;
      const auto& req = parser_.request();
      const http::Header* accept = http::findHeader(req.headers, "accept");
      Reply reply = methodAllowed() ? server_.handle(req.method, req.target,
                                                     accept != nullptr ? accept->value : "")
                                    : refusal();
      if (upgrade || !req.keep_alive) reply.close = true;
      respond(std::move(reply));
      if (closing_) return;
      parser_.resume();
      connection_.setDeadline(server_.loop_.now() + kHeaderTimeout);
    }
  }

  bool methodAllowed() const {
    const auto method = parser_.request().method;
    return method == "GET" || method == "HEAD";
  }

  Reply refusal() const {
    Reply r = text(405, "method not allowed; the admin endpoints answer GET and HEAD\n", true);
    r.allow = std::string(kAllow);
    return r;
  }

  void respond(Reply reply) {
    const auto& req = parser_.request();
    const bool head = req.method == "HEAD";
    const bool http10 = req.version_major == 1 && req.version_minor == 0;
    std::string out = "HTTP/1.1 " + std::to_string(reply.status) + " " +
                      std::string(http::reasonPhrase(reply.status)) + "\r\n";
    out += "Content-Type: " + reply.content_type + "\r\n";
    // HEAD: the Content-Length GET would have, and no body (RFC 9110 9.3.2).
    out += "Content-Length: " + std::to_string(reply.body.size()) + "\r\n";
    out += "Cache-Control: no-store\r\n";
    if (!reply.allow.empty()) out += "Allow: " + reply.allow + "\r\n";
    if (reply.close) {
      out += "Connection: close\r\n";
    } else if (http10) {
      out += "Connection: keep-alive\r\n";
    }
    out += "\r\n";
    if (!head) out += reply.body;
    connection_.write(out);
    connection_.clearDeadline();
    if (reply.close) {
      closing_ = true;
      connection_.disableRead();
    }
  }

  AdminServer& server_;
  net::Connection connection_;
  http::MessageParser parser_;
  bool closing_ = false;
  bool closed_ = false;
};

AdminServer::AdminServer(EventLoop& loop, const net::SocketAddress& address, Hooks hooks,
                         observe::ListenerMetrics& listener_metrics)
    : loop_(loop), hooks_(std::move(hooks)), pauses_(loop, "admin", listener_metrics) {
  auto fd = net::bindListener(address, /*reuse_port=*/false);
  if (!fd) throw std::runtime_error("admin listener: " + fd.error().message);
  auto bound = net::localAddress(*fd);
  if (!bound) {
    ::close(*fd);
    throw std::runtime_error("admin listener: " + bound.error().message);
  }
  bound_ = *bound;
  listener_ = std::make_unique<net::Listener>(
      loop, *fd, [this](int client, const sockaddr*, socklen_t) { accept(client); },
      [this](int err) {
        pauses_.onPause(err, std::to_string(sessions_.size()) + " admin connections open");
      });
}

AdminServer::~AdminServer() {
  listener_.reset();
  while (!sessions_.empty()) sessions_.front()->close();
  loop_.clearDeferred();
}

void AdminServer::accept(int fd) {
  net::prepareAcceptedSocket(fd);
  auto session = std::make_unique<Session>(*this, fd);
  Session* raw = session.get();
  sessions_.push_front(std::move(session));
  raw->position = sessions_.begin();
  if (sessions_.size() >= kMaxConnections) listener_->pauseForLimit();
}

void AdminServer::onSessionClosed(Session& session) {
  auto owned = std::move(*session.position);
  sessions_.erase(session.position);
  // Possibly inside the session's own callback: destroyed on the next loop turn.
  loop_.deferredDestroy(std::move(owned));
  if (listener_ && listener_->pausedForLimit() && sessions_.size() < kMaxConnections) {
    listener_->resumeForLimit();
  }
}

AdminServer::Reply AdminServer::handle(std::string_view /*method*/, std::string_view target,
                                       std::string_view accept) const {
  const size_t q = target.find('?');
  const std::string_view path = target.substr(0, q);
  const std::string_view query = q == std::string_view::npos ? "" : target.substr(q + 1);
  if (path == "/healthz") return text(200, "ok\n");
  if (path == "/readyz") {
    if (hooks_.draining && hooks_.draining()) return text(503, "draining\n");
    return text(200, "ready\n");
  }
  if (path == "/debug/triage" && hooks_.triage) {
    const bool as_text = query.find("format=text") != std::string_view::npos;
    Reply r = text(200, hooks_.triage(as_text));
    if (!as_text) r.content_type = "application/json";
    return r;
  }
  if (path == "/config" && hooks_.config) {
    Reply r = text(200, hooks_.config());
    r.content_type = "application/json";
    return r;
  }
  if (path == "/metrics" && hooks_.metrics) {
    const bool openmetrics = observe::acceptsOpenMetrics(accept);
    Reply r = text(200, hooks_.metrics(openmetrics));
    r.content_type = openmetrics ? std::string(observe::kOpenMetricsContentType)
                                 : "text/plain; version=0.0.4; charset=utf-8";
    return r;
  }
  return text(404, "not found; try /metrics, /healthz, /readyz, /config or /debug/triage\n");
}

}  // namespace triaged::admin
