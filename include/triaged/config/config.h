#pragma once

// The effective configuration as plain structs. Filled and fully validated by ConfigLoader
// (config_loader.h, the only place that sees TOML); everything downstream trusts these values.

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "triaged/diagnose/triage_hint.h"

namespace triaged::config {

using Duration = std::chrono::milliseconds;

// "127.0.0.1:8080", "[::1]:8080" or "name:8080". Names are resolved by DNS at run time.
struct HostPort {
  std::string host;  // without brackets
  uint16_t port = 0;
  bool is_ip_literal = false;  // true for IPv4/IPv6 literals: no DNS needed

  std::string toString() const;  // brackets IPv6 back: "[::1]:80"
  bool operator==(const HostPort&) const = default;
};

struct ServerConfig {
  HostPort listen;                                                           // required
  std::optional<HostPort> admin_listen = HostPort{"127.0.0.1", 9901, true};  // "" disables
  uint32_t workers = 1;  // resolved: 0 in the file = one per core
  Duration drain_timeout{10'000};
  Duration client_header_timeout{10'000};
  Duration client_idle_timeout{60'000};
  uint64_t max_request_header_bytes = 65536;
  uint64_t max_request_body_bytes = 0;  // 0 = unlimited
  // Extension: open client connections, all workers together. 0 = derived from the descriptor
  // limit (RLIMIT_NOFILE), so that accepting stops before descriptors run out and the admin
  // listener, upstream connections and DNS keep theirs (server/descriptor_budget.h).
  uint32_t max_client_connections = 0;
  // Extension, W3C trace context: "propagate" (default) forwards a client's traceparent as it
  // is and logs its trace id; "start" also starts a trace (a new traceparent, sampled) for a
  // request that has none, so that every failure has a trace id.
  std::string trace_context = "propagate";
  // Reload when the configuration file changes (checked every second, following symlinks as
  // the kubelet swaps a ConfigMap's), as SIGHUP does. Off by default for the standalone daemon.
  bool watch_config = false;
  std::vector<HostPort> dns_servers;  // empty = /etc/resolv.conf
  Duration dns_refresh{30'000};
  // An HTTPS listener beside `listen`, with the serving certificate chain and its key (PEM,
  // paths resolved against the config file's directory; both required with tls_listen).
  std::optional<HostPort> tls_listen;
  std::string tls_cert;
  std::string tls_key;
};

struct LogConfig {
  std::string level = "info";   // trace debug info warn error
  std::string format = "json";  // json | text
  bool access_log = false;
  std::string hint_language = "en";  // en | zh
  bool expose_details = false;       // internal addresses in proxy-made error bodies
  // Hint catalog file (the shape of config/hints.toml); "" = the built-in catalog. Stored
  // resolved: a relative path in the file is taken relative to the config file's directory.
  std::string hint_catalog;
  // Failure lines per (upstream, cause): `failure_log_burst` in full per interval, the rest
  // counted into one summary line at the interval's end.
  uint32_t failure_log_burst = 10;
  Duration failure_log_interval{10'000};
};

struct UpstreamConfig {
  std::string name;                 // required, unique
  std::vector<HostPort> endpoints;  // required, non-empty
  Duration connect_timeout{1'000};
  Duration response_header_timeout{15'000};
  Duration body_idle_timeout{60'000};
  Duration request_timeout{0};  // 0 = off
  uint32_t max_connections = 256;
  uint32_t max_pending = 1024;
  Duration pending_timeout{5'000};  // extension: longest wait for a connection slot
  Duration keepalive_idle_timeout{30'000};
  // Extension: idle pooled connections kept per endpoint. Unset: sized from demand (every open
  // connection may go back to the pool, bounded by max_connections and closed after
  // keepalive_idle_timeout); 0: no pooling.
  std::optional<uint32_t> max_idle_connections;
  uint64_t max_response_header_bytes = 32768;
  uint32_t retries = 1;
  // Extension, after HAProxy's http-reuse: "safe" (default) sends a request that may not be
  // replayed (not idempotent, or its body too large to keep) on a pooled connection only when
  // that connection is well inside the upstream's known idle limit, or was just used; otherwise
  // on a new connection, so it cannot meet the keep-alive race. "always" reuses any pooled
  // connection for any request.
  std::string reuse = "safe";
  // TLS to the endpoints. Paths are resolved against the config file's directory.
  bool tls = false;
  bool tls_verify = true;       // the chain (tls_ca, or the system's CAs) and the name
  std::string tls_ca;           // CA bundle (PEM); "" = the system's CAs
  std::string tls_server_name;  // SNI and verified name; "" = the endpoint's host
  std::string tls_client_cert;  // client certificate chain (mTLS), with tls_client_key
  std::string tls_client_key;
};

struct RouteConfig {
  std::string prefix = "/";
  std::optional<std::string> host;  // exact, case-insensitive Host match (port ignored)
  std::string upstream;             // required; names an UpstreamConfig
};

struct Config {
  std::string source_file;  // path the config was read from (for messages)
  ServerConfig server;
  LogConfig log;
  std::vector<UpstreamConfig> upstreams;
  std::vector<RouteConfig> routes;
  // [hints.<cause>] tables: per-cause replacements (non-empty parts only) applied over the hint
  // catalog, keyed by cause name ("connect_refused"); see config_loader.h buildHintCatalog().
  std::map<std::string, diagnose::HintText> hint_overrides;

  const UpstreamConfig* findUpstream(const std::string& name) const;
};

}  // namespace triaged::config
