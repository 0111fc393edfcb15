#include "triaged/admin/admin_server.h"

#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <unistd.h>

#include <stdexcept>
#include <string_view>

namespace triaged::admin {
namespace {

void reply(evhttp_request* req, int code, const char* reason, std::string_view content_type,
           std::string_view body) {
  evkeyvalq* headers = evhttp_request_get_output_headers(req);
  evhttp_add_header(headers, "Content-Type", std::string(content_type).c_str());
  evhttp_add_header(headers, "Cache-Control", "no-store");
  EvBufferPtr buf(evbuffer_new());
  evbuffer_add(buf.get(), body.data(), body.size());
  evhttp_send_reply(req, code, reason, buf.get());
}

}  // namespace

AdminServer::AdminServer(EventLoop& loop, const net::SocketAddress& address, Hooks hooks)
    : hooks_(std::move(hooks)) {
  http_.reset(evhttp_new(loop.base()));
  if (!http_) throw std::runtime_error("evhttp_new failed");
  evhttp_set_allowed_methods(http_.get(), EVHTTP_REQ_GET | EVHTTP_REQ_HEAD);
  evhttp_set_timeout(http_.get(), 10);
  evhttp_set_max_headers_size(http_.get(), 16384);
  evhttp_set_gencb(http_.get(), &AdminServer::onRequest, this);
  auto fd = net::bindListener(address, /*reuse_port=*/false);
  if (!fd) throw std::runtime_error("admin listener: " + fd.error().message);
  if (evhttp_accept_socket_with_handle(http_.get(), *fd) == nullptr) {
    ::close(*fd);
    throw std::runtime_error("admin listener: evhttp_accept_socket failed");
  }
  auto bound = net::localAddress(*fd);
  if (!bound) throw std::runtime_error("admin listener: " + bound.error().message);
  bound_ = *bound;
}

void AdminServer::onRequest(evhttp_request* req, void* ctx) noexcept {
  static_cast<AdminServer*>(ctx)->handle(req);
}

void AdminServer::handle(evhttp_request* req) {
  const evhttp_uri* uri = evhttp_request_get_evhttp_uri(req);
  const char* path_c = uri != nullptr ? evhttp_uri_get_path(uri) : nullptr;
  const std::string_view path = path_c != nullptr ? path_c : "/";
  if (path == "/healthz") {
    reply(req, 200, "OK", "text/plain; charset=utf-8", "ok\n");
  } else if (path == "/readyz") {
    if (hooks_.draining && hooks_.draining()) {
      reply(req, 503, "Service Unavailable", "text/plain; charset=utf-8", "draining\n");
    } else {
      reply(req, 200, "OK", "text/plain; charset=utf-8", "ready\n");
    }
  } else if (path == "/debug/triage" && hooks_.triage) {
    const char* query_c = uri != nullptr ? evhttp_uri_get_query(uri) : nullptr;
    const std::string_view query = query_c != nullptr ? query_c : "";
    const bool text = query.find("format=text") != std::string_view::npos;
    reply(req, 200, "OK", text ? "text/plain; charset=utf-8" : "application/json",
          hooks_.triage(text));
  } else if (path == "/config" && hooks_.config) {
    reply(req, 200, "OK", "application/json", hooks_.config());
  } else if (path == "/metrics" && hooks_.metrics) {
    reply(req, 200, "OK", "text/plain; version=0.0.4; charset=utf-8", hooks_.metrics());
  } else {
    reply(req, 404, "Not Found", "text/plain; charset=utf-8",
          "not found; try /metrics, /healthz, /readyz, /config or /debug/triage\n");
  }
}

}  // namespace triaged::admin
