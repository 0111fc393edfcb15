#include "triaged/config/config_json.h"

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "triaged/core/text.h"

namespace triaged::config {
namespace {

// Writes one pretty-printed JSON document. Containers open with begin*() and close with end*();
// key() names the next value inside an object. Commas and indentation are handled here.
class JsonWriter {
 public:
  void beginObject() { open('{'); }
  void endObject() { close('}'); }
  void beginArray() { open('['); }
  void endArray() { close(']'); }

  void key(std::string_view name) {
    separate();
    out_ += jsonQuoted(name);
    out_ += ": ";
    after_key_ = true;
  }

  void string(std::string_view text) { scalar(jsonQuoted(text)); }
  void number(uint64_t n) { scalar(std::to_string(n)); }
  void boolean(bool b) { scalar(b ? "true" : "false"); }
  void null() { scalar("null"); }
  void duration(Duration d) { string(durationToString(d)); }
  void address(const HostPort& hp) { string(hp.toString()); }

  std::string take() {
    out_ += '\n';
    return std::move(out_);
  }

 private:
  struct Level {
    bool empty = true;
  };

  // Before a value or key: a comma after the previous sibling, then a new indented line.
  // A value right after its key stays on the key's line.
  void separate() {
    if (after_key_) {
      after_key_ = false;
      return;
    }
    if (levels_.empty()) return;  // the top-level value
    if (!levels_.back().empty) out_ += ',';
    levels_.back().empty = false;
    newline(levels_.size());
  }

  void scalar(std::string_view text) {
    separate();
    out_ += text;
  }

  void open(char bracket) {
    separate();
    out_ += bracket;
    levels_.push_back(Level{});
  }

  void close(char bracket) {
    const bool was_empty = levels_.back().empty;
    levels_.pop_back();
    if (!was_empty) newline(levels_.size());
    out_ += bracket;
  }

  void newline(size_t depth) {
    out_ += '\n';
    out_.append(depth * 2, ' ');
  }

  std::string out_;
  std::vector<Level> levels_;
  bool after_key_ = false;
};

void writeServer(JsonWriter& w, const ServerConfig& s) {
  w.beginObject();
  w.key("listen");
  w.address(s.listen);
  w.key("admin_listen");
  if (s.admin_listen) {
    w.address(*s.admin_listen);
  } else {
    w.null();
  }
  w.key("workers");
  w.number(s.workers);
  w.key("drain_timeout");
  w.duration(s.drain_timeout);
  w.key("client_header_timeout");
  w.duration(s.client_header_timeout);
  w.key("client_idle_timeout");
  w.duration(s.client_idle_timeout);
  w.key("max_request_header_bytes");
  w.number(s.max_request_header_bytes);
  w.key("max_request_body_bytes");
  w.number(s.max_request_body_bytes);
  w.key("max_client_connections");
  w.number(s.max_client_connections);
  w.key("trace_context");
  w.string(s.trace_context);
  w.key("watch_config");
  w.boolean(s.watch_config);
  w.key("dns_servers");
  w.beginArray();
  for (const HostPort& server : s.dns_servers) w.address(server);
  w.endArray();
  w.key("dns_refresh");
  w.duration(s.dns_refresh);
  w.key("tls_listen");
  if (s.tls_listen) {
    w.address(*s.tls_listen);
  } else {
    w.null();
  }
  w.key("tls_cert");
  w.string(s.tls_cert);
  w.key("tls_key");
  w.string(s.tls_key);  // the path only, never the key
  w.endObject();
}

void writeLog(JsonWriter& w, const LogConfig& l) {
  w.beginObject();
  w.key("level");
  w.string(l.level);
  w.key("format");
  w.string(l.format);
  w.key("access_log");
  w.boolean(l.access_log);
  w.key("hint_language");
  w.string(l.hint_language);
  w.key("expose_details");
  w.boolean(l.expose_details);
  w.key("hint_catalog");
  w.string(l.hint_catalog);
  w.key("failure_log_burst");
  w.number(l.failure_log_burst);
  w.key("failure_log_interval");
  w.duration(l.failure_log_interval);
  w.endObject();
}

void writeUpstream(JsonWriter& w, const UpstreamConfig& u) {
  w.beginObject();
  w.key("name");
  w.string(u.name);
  w.key("endpoints");
  w.beginArray();
  for (const HostPort& endpoint : u.endpoints) w.address(endpoint);
  w.endArray();
  w.key("connect_timeout");
  w.duration(u.connect_timeout);
  w.key("response_header_timeout");
  w.duration(u.response_header_timeout);
  w.key("body_idle_timeout");
  w.duration(u.body_idle_timeout);
  w.key("request_timeout");
  w.duration(u.request_timeout);
  w.key("max_connections");
  w.number(u.max_connections);
  w.key("max_pending");
  w.number(u.max_pending);
  w.key("pending_timeout");
  w.duration(u.pending_timeout);
  w.key("keepalive_idle_timeout");
  w.duration(u.keepalive_idle_timeout);
  w.key("max_idle_connections");
  if (u.max_idle_connections) {
    w.number(*u.max_idle_connections);
  } else {
    w.null();  // sized from demand: every open connection may stay pooled
  }
  w.key("max_response_header_bytes");
  w.number(u.max_response_header_bytes);
  w.key("retries");
  w.number(u.retries);
  w.key("reuse");
  w.string(u.reuse);
  w.key("tls");
  w.boolean(u.tls);
  w.key("tls_verify");
  w.boolean(u.tls_verify);
  w.key("tls_ca");
  w.string(u.tls_ca);
  w.key("tls_server_name");
  w.string(u.tls_server_name);
  w.key("tls_client_cert");
  w.string(u.tls_client_cert);
  w.key("tls_client_key");
  w.string(u.tls_client_key);
  w.endObject();
}

void writeRoute(JsonWriter& w, const RouteConfig& r) {
  w.beginObject();
  w.key("prefix");
  w.string(r.prefix);
  w.key("host");
  if (r.host) {
    w.string(*r.host);
  } else {
    w.null();
  }
  w.key("upstream");
  w.string(r.upstream);
  w.endObject();
}

}  // namespace

std::string durationToString(Duration duration) {
  const int64_t ms = duration.count();
  if (ms == 0) return "0s";
  if (ms % 3'600'000 == 0) return std::to_string(ms / 3'600'000) + "h";
  if (ms % 60'000 == 0) return std::to_string(ms / 60'000) + "m";
  if (ms % 1'000 == 0) return std::to_string(ms / 1'000) + "s";
  return std::to_string(ms) + "ms";
}

std::string configToJson(const Config& config) {
  JsonWriter w;
  w.beginObject();
  w.key("source_file");
  w.string(config.source_file);
  w.key("server");
  writeServer(w, config.server);
  w.key("log");
  writeLog(w, config.log);
  w.key("upstreams");
  w.beginArray();
  for (const UpstreamConfig& upstream : config.upstreams) writeUpstream(w, upstream);
  w.endArray();
  w.key("routes");
  w.beginArray();
  for (const RouteConfig& route : config.routes) writeRoute(w, route);
  w.endArray();
  // Cause names only: override texts can be long and are already in the hint catalog.
  w.key("hint_overrides");
  w.beginArray();
  for (const auto& entry : config.hint_overrides) w.string(entry.first);
  w.endArray();
  w.endObject();
  return w.take();
}

}  // namespace triaged::config
