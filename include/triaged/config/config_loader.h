#pragma once

// Reads a TOML file into config::Config, validating every key. The only place that includes
// toml11. Problems are collected (not just the first) so --check-config can list them all.

#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "triaged/config/config.h"
#include "triaged/core/result.h"
#include "triaged/diagnose/triage_hint.h"

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

// A hint catalog in the shape of config/hints.toml: one table per cause name (PRODUCT.md's
// causes and no_route) with the string keys en, zh and runbook. Throws ConfigError listing every
// problem as `NAME:LINE: KEY: reason` (unknown cause, unknown key, non-string or empty value,
// multi-line text, unknown {placeholder}); `name` is used in messages.
diagnose::HintCatalog loadHintCatalog(std::string_view toml_text, const std::string& name);
// Same, from a file; a file that cannot be read is a ConfigError on key "file".
diagnose::HintCatalog loadHintCatalogFile(const std::string& path);
// The catalog compiled in from config/hints.toml, parsed once on first use (thread-safe).
const diagnose::HintCatalog& defaultHintCatalog();
// What the daemon uses: the built-in catalog, then the texts of `log.hint_catalog` when set
// (cause by cause and language by language: what the file leaves out keeps the built-in text),
// then the config's [hints.<cause>] overrides. Throws ConfigError when the catalog file became
// unreadable or invalid since the config was validated.
diagnose::HintCatalog buildHintCatalog(const Config& config);

// "250ms", "1s", "2m", "1h", "0s"; fractional values like "1.5s" are accepted.
Result<Duration> parseDuration(std::string_view text);
// "127.0.0.1:80", "[::1]:80", "host.name:80". Port 0 is allowed (bind any free port).
Result<HostPort> parseHostPort(std::string_view text);

}  // namespace triaged::config
