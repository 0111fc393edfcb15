#pragma once

// What a reload changes, and whether it can. A configuration is compared as flat
// "path = value" pairs, the way an operator reads a change: "server.client_idle_timeout",
// "upstream.app.connect_timeout", "route.api.example.com/v1.upstream", "hints.connect_refused.en".
// Upstreams and routes are keyed by identity (name; host and prefix), not position, so
// reordering the file changes nothing. Pure.

#include <map>
#include <string>
#include <vector>

#include "triaged/config/config.h"

namespace triaged::config {

using FlatConfig = std::map<std::string, std::string>;
FlatConfig flatten(const Config& config);

// 16 hex digits: FNV-1a 64 of the flattened pairs. The same effective configuration gives the
// same hash whatever its comments, layout or order (triaged_config_info{hash}).
std::string configHash(const Config& config);

struct ConfigDiff {
  std::vector<std::string> upstreams_added;
  std::vector<std::string> upstreams_removed;
  std::vector<std::string> upstreams_changed;  // same name, some setting differs
  std::vector<std::string> routes_added;       // "host/prefix" or "/prefix"
  std::vector<std::string> routes_removed;
  std::vector<std::string> routes_changed;
  std::vector<std::string> keys_changed;  // server, log and hints: "log.level: info -> debug"
  bool empty() const;
  // One line: "upstreams +billing -legacy ~app; routes +/v2; keys log.level: info -> debug".
  std::string summary() const;
};
ConfigDiff diffConfigs(const Config& before, const Config& after);

// The changed keys that a running process cannot apply (it would need new worker threads, DNS
// bases or log sinks): "server.workers", "server.dns_servers", "log.format". A reload that
// changes one is refused whole, with the key named.
std::vector<std::string> restartOnlyChanges(const Config& before, const Config& after);

}  // namespace triaged::config
