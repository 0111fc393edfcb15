#pragma once

// Reads a TOML file into config::Config, validating every key. The only place that includes
// toml11. Problems are collected (not just the first) so --check-config can list them all.

#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "triaged/config/config.h"
#include "triaged/core/result.h"

namespace triaged::config {

struct ConfigProblem {
  std::string file;
  int line = 0;     // 1-based; 0 when unknown (e.g. a missing required key: the table's line)
  std::string key;  // dotted path, e.g. "upstream[1].connect_timeout"
  std::string reason;

  // "FILE:LINE: KEY: reason"
  std::string format() const;
};

class ConfigError : public std::runtime_error {
 public:
  explicit ConfigError(std::vector<ConfigProblem> problems);
  const std::vector<ConfigProblem>& problems() const { return problems_; }

 private:
  std::vector<ConfigProblem> problems_;
};

// Throws ConfigError (never a toml11 exception) listing every problem found.
Config loadConfigFile(const std::string& path);
// Same, from text; `file_name` is used in messages. For tests.
Config loadConfigString(std::string_view toml_text, const std::string& file_name);

// "250ms", "1s", "2m", "1h", "0s"; fractional values like "1.5s" are accepted.
Result<Duration> parseDuration(std::string_view text);
// "127.0.0.1:80", "[::1]:80", "host.name:80". Port 0 is allowed (bind any free port).
Result<HostPort> parseHostPort(std::string_view text);

}  // namespace triaged::config
