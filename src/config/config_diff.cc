#include "triaged/config/config_diff.h"

#include <algorithm>
#include <cstdint>
#include <set>

#include "triaged/config/config_json.h"

namespace triaged::config {
namespace {

std::string routeKey(const RouteConfig& r) { return r.host.value_or("") + r.prefix; }

std::string join(const std::vector<HostPort>& list) {
  std::string out;
  for (const auto& hp : list) {
    if (!out.empty()) out += ',';
    out += hp.toString();
  }
  return out;
}

// The sections of the flat map: "server.", "log.", "upstream.<name>.", "route.<key>.",
// "hints.<cause>.".
std::string sectionOf(const std::string& path) {
  if (path.rfind("upstream.", 0) == 0 || path.rfind("route.", 0) == 0) {
    // The identity ends before the last dot (names and route keys may hold dots).
    return path.substr(0, path.rfind('.'));
  }
  return path.substr(0, path.find('.'));
}

void addUnique(std::vector<std::string>& list, const std::string& item) {
  if (std::find(list.begin(), list.end(), item) == list.end()) list.push_back(item);
}

}  // namespace

FlatConfig flatten(const Config& c) {
  FlatConfig f;
  const auto d = [](Duration v) { return durationToString(v); };
  const ServerConfig& s = c.server;
  f["server.listen"] = s.listen.toString();
  f["server.admin_listen"] = s.admin_listen ? s.admin_listen->toString() : "";
  f["server.workers"] = std::to_string(s.workers);
  f["server.drain_timeout"] = d(s.drain_timeout);
  f["server.client_header_timeout"] = d(s.client_header_timeout);
  f["server.client_idle_timeout"] = d(s.client_idle_timeout);
  f["server.max_request_header_bytes"] = std::to_string(s.max_request_header_bytes);
  f["server.max_request_body_bytes"] = std::to_string(s.max_request_body_bytes);
  f["server.max_client_connections"] = std::to_string(s.max_client_connections);
  f["server.trace_context"] = s.trace_context;
  f["server.dns_servers"] = join(s.dns_servers);
  f["server.dns_refresh"] = d(s.dns_refresh);
  f["server.watch_config"] = s.watch_config ? "true" : "false";
  f["server.tls_listen"] = s.tls_listen ? s.tls_listen->toString() : "";
  f["server.tls_cert"] = s.tls_cert;
  f["server.tls_key"] = s.tls_key;
  const LogConfig& l = c.log;
  f["log.level"] = l.level;
  f["log.format"] = l.format;
  f["log.access_log"] = l.access_log ? "true" : "false";
  f["log.hint_language"] = l.hint_language;
  f["log.expose_details"] = l.expose_details ? "true" : "false";
  f["log.hint_catalog"] = l.hint_catalog;
  f["log.failure_log_burst"] = std::to_string(l.failure_log_burst);
  f["log.failure_log_interval"] = d(l.failure_log_interval);
  for (const UpstreamConfig& u : c.upstreams) {
    const std::string p = "upstream." + u.name + ".";
    f[p + "endpoints"] = join(u.endpoints);
    f[p + "connect_timeout"] = d(u.connect_timeout);
    f[p + "response_header_timeout"] = d(u.response_header_timeout);
    f[p + "body_idle_timeout"] = d(u.body_idle_timeout);
    f[p + "request_timeout"] = d(u.request_timeout);
    f[p + "max_connections"] = std::to_string(u.max_connections);
    f[p + "max_pending"] = std::to_string(u.max_pending);
    f[p + "pending_timeout"] = d(u.pending_timeout);
    f[p + "keepalive_idle_timeout"] = d(u.keepalive_idle_timeout);
    f[p + "max_idle_connections"] =
        u.max_idle_connections ? std::to_string(*u.max_idle_connections) : "";
    f[p + "max_response_header_bytes"] = std::to_string(u.max_response_header_bytes);
    f[p + "retries"] = std::to_string(u.retries);
    f[p + "reuse"] = u.reuse;
    f[p + "tls"] = u.tls ? "true" : "false";
    f[p + "tls_verify"] = u.tls_verify ? "true" : "false";
    f[p + "tls_ca"] = u.tls_ca;
    f[p + "tls_server_name"] = u.tls_server_name;
    f[p + "tls_client_cert"] = u.tls_client_cert;
    f[p + "tls_client_key"] = u.tls_client_key;
  }
  for (const RouteConfig& r : c.routes) f["route." + routeKey(r) + ".upstream"] = r.upstream;
  for (const auto& [cause, text] : c.hint_overrides) {
    const std::string p = "hints." + cause + ".";
    f[p + "en"] = text.en;
    f[p + "zh"] = text.zh;
    f[p + "runbook"] = text.runbook;
  }
  return f;
}

std::string configHash(const Config& config) {
  uint64_t h = 14695981039346656037ULL;
  const auto mix = [&h](std::string_view s) {
    for (const char c : s) {
      h ^= static_cast<unsigned char>(c);
      h *= 1099511628211ULL;
    }
    h ^= 0xff;  // a separator no text contains, so ("ab","c") and ("a","bc") differ
    h *= 1099511628211ULL;
  };
  for (const auto& [path, value] : flatten(config)) {
    mix(path);
    mix(value);
  }
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out(16, '0');
  for (int i = 15; i >= 0; --i) {
    out[static_cast<size_t>(i)] = kHex[h & 0xf];
    h >>= 4;
  }
  return out;
}

bool ConfigDiff::empty() const {
  return upstreams_added.empty() && upstreams_removed.empty() && upstreams_changed.empty() &&
         routes_added.empty() && routes_removed.empty() && routes_changed.empty() &&
         keys_changed.empty();
}

std::string ConfigDiff::summary() const {
  if (empty()) return "no change";
  std::string out;
  const auto part = [&out](std::string_view title, const std::vector<std::string>& plus,
                           const std::vector<std::string>& minus,
                           const std::vector<std::string>& changed) {
    if (plus.empty() && minus.empty() && changed.empty()) return;
    if (!out.empty()) out += "; ";
    out += title;
    for (const auto& x : plus) out += " +" + x;
    for (const auto& x : minus) out += " -" + x;
    for (const auto& x : changed) out += " ~" + x;
  };
  part("upstreams", upstreams_added, upstreams_removed, upstreams_changed);
  part("routes", routes_added, routes_removed, routes_changed);
  if (!keys_changed.empty()) {
    if (!out.empty()) out += "; ";
    out += "keys";
    for (size_t i = 0; i < keys_changed.size(); ++i) out += (i ? ", " : " ") + keys_changed[i];
  }
  return out;
}

ConfigDiff diffConfigs(const Config& before, const Config& after) {
  const FlatConfig a = flatten(before);
  const FlatConfig b = flatten(after);
  std::set<std::string> sections_a;
  std::set<std::string> sections_b;
  for (const auto& [path, value] : a) sections_a.insert(sectionOf(path));
  for (const auto& [path, value] : b) sections_b.insert(sectionOf(path));
  ConfigDiff diff;
  const auto identity = [](const std::string& section) {
    return section.substr(section.find('.') + 1);
  };
  for (const auto& section : sections_b) {
    if (sections_a.count(section) != 0) continue;
    if (section.rfind("upstream.", 0) == 0) diff.upstreams_added.push_back(identity(section));
    if (section.rfind("route.", 0) == 0) diff.routes_added.push_back(identity(section));
  }
  for (const auto& section : sections_a) {
    if (sections_b.count(section) != 0) continue;
    if (section.rfind("upstream.", 0) == 0) diff.upstreams_removed.push_back(identity(section));
    if (section.rfind("route.", 0) == 0) diff.routes_removed.push_back(identity(section));
  }
  std::set<std::string> paths;
  for (const auto& [path, value] : a) paths.insert(path);
  for (const auto& [path, value] : b) paths.insert(path);
  for (const auto& path : paths) {
    const auto ia = a.find(path);
    const auto ib = b.find(path);
    const std::string section = sectionOf(path);
    const bool both = sections_a.count(section) != 0 && sections_b.count(section) != 0;
    const std::string va = ia == a.end() ? "" : ia->second;
    const std::string vb = ib == b.end() ? "" : ib->second;
    if (va == vb) continue;
    if (path.rfind("upstream.", 0) == 0) {
      if (both) addUnique(diff.upstreams_changed, identity(section));
    } else if (path.rfind("route.", 0) == 0) {
      if (both) addUnique(diff.routes_changed, identity(section));
    } else if (path.rfind("hints.", 0) == 0) {
      addUnique(diff.keys_changed, section);
    } else {
      diff.keys_changed.push_back(path + ": " + (va.empty() ? "\"\"" : va) + " -> " +
                                  (vb.empty() ? "\"\"" : vb));
    }
  }
  return diff;
}

std::vector<std::string> restartOnlyChanges(const Config& before, const Config& after) {
  std::vector<std::string> keys;
  if (before.server.workers != after.server.workers) keys.emplace_back("server.workers");
  if (!(before.server.dns_servers == after.server.dns_servers)) {
    keys.emplace_back("server.dns_servers");
  }
  if (before.log.format != after.log.format) keys.emplace_back("log.format");
  // The TLS listener is bound, and its watch made, at start (a new certificate pair on the same
  // listener is applied by a reload, or by the watch of its files).
  if (!(before.server.tls_listen == after.server.tls_listen)) {
    keys.emplace_back("server.tls_listen");
  }
  return keys;
}

}  // namespace triaged::config
