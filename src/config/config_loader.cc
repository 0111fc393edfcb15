// The only translation unit that sees toml11 (STYLE.md): every toml11 exception is caught here
// and turned into ConfigProblems, so nothing downstream needs to know the file format.

#include "triaged/config/config_loader.h"

#include <arpa/inet.h>
#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <limits>
#include <set>
#include <sstream>
#include <toml.hpp>
#include <utility>

#include "triaged/core/cpu_count.h"
#include "triaged/core/text.h"
#include "triaged/diagnose/failure_table.h"
#include "triaged/net/tls.h"

namespace triaged::config {

std::string ConfigProblem::format() const {
  return file + ":" + std::to_string(line) + ": " + key + ": " + reason;
}

namespace {

std::string joinProblems(const std::vector<ConfigProblem>& problems) {
  std::string out;
  for (const auto& problem : problems) {
    if (!out.empty()) out += '\n';
    out += problem.format();
  }
  return out;
}

}  // namespace

ConfigError::ConfigError(std::vector<ConfigProblem> problems)
    : std::runtime_error(joinProblems(problems)), problems_(std::move(problems)) {}

namespace {

constexpr std::string_view kDurationExpected =
    R"(expected a duration such as "250ms", "1s" or "2m")";
constexpr uint32_t kMaxWorkers = 256;
constexpr uint32_t kMaxRetries = 5;
constexpr uint64_t kMinHeaderBytes = 1024;
constexpr uint16_t kDefaultDnsPort = 53;
constexpr size_t kMaxHostNameLength = 253;  // RFC 1035, without the trailing dot

constexpr std::array<std::string_view, 5> kTopLevelKeys = {"server", "log", "upstream", "route",
                                                           "hints"};
constexpr std::array<std::string_view, 16> kServerKeys = {"listen",
                                                          "admin_listen",
                                                          "workers",
                                                          "drain_timeout",
                                                          "client_header_timeout",
                                                          "client_idle_timeout",
                                                          "max_request_header_bytes",
                                                          "max_request_body_bytes",
                                                          "dns_servers",
                                                          "dns_refresh",
                                                          "max_client_connections",
                                                          "trace_context",
                                                          "watch_config",
                                                          "tls_listen",
                                                          "tls_cert",
                                                          "tls_key"};
constexpr std::array<std::string_view, 2> kTraceContextModes = {"propagate", "start"};
constexpr std::array<std::string_view, 8> kLogKeys = {
    "level",          "format",       "access_log",        "hint_language",
    "expose_details", "hint_catalog", "failure_log_burst", "failure_log_interval"};
constexpr std::array<std::string_view, 20> kUpstreamKeys = {"name",
                                                            "endpoints",
                                                            "connect_timeout",
                                                            "response_header_timeout",
                                                            "body_idle_timeout",
                                                            "request_timeout",
                                                            "max_connections",
                                                            "max_pending",
                                                            "pending_timeout",
                                                            "keepalive_idle_timeout",
                                                            "max_idle_connections",
                                                            "max_response_header_bytes",
                                                            "retries",
                                                            "reuse",
                                                            "tls",
                                                            "tls_verify",
                                                            "tls_ca",
                                                            "tls_server_name",
                                                            "tls_client_cert",
                                                            "tls_client_key"};
constexpr std::array<std::string_view, 2> kReuseModes = {"safe", "always"};
constexpr std::array<std::string_view, 3> kRouteKeys = {"prefix", "host", "upstream"};
constexpr std::array<std::string_view, 3> kHintKeys = {"en", "zh", "runbook"};
constexpr std::string_view kBuiltinHintCatalogName = "config/hints.toml (built in)";

// Every entry a hint can be written for: each cause of the cause table, then the events whose
// lines carry a hint of their own (endpoint_recovered, ...).
const std::vector<std::string_view>& hintCauseNames() {
  static const std::vector<std::string_view> names = [] {
    std::vector<std::string_view> out;
    for (const auto& info : diagnose::allCauses()) out.push_back(info.name);
    for (const auto event : diagnose::eventHintNames()) out.push_back(event);
    return out;
  }();
  return names;
}

constexpr std::array<std::string_view, 5> kLogLevels = {"trace", "debug", "info", "warn", "error"};
constexpr std::array<std::string_view, 2> kLogFormats = {"json", "text"};
constexpr std::array<std::string_view, 2> kHintLanguages = {"en", "zh"};

bool isDigit(char c) { return c >= '0' && c <= '9'; }
bool isAlpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool isHostNameChar(char c) { return isAlpha(c) || isDigit(c) || c == '-' || c == '.' || c == '_'; }

std::string inQuotes(std::string_view text) {
  std::string out;
  out.reserve(text.size() + 2);
  out += '"';
  out += text;
  out += '"';
  return out;
}

std::string toLower(std::string_view text) {
  std::string out(text);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

bool isIpv4Literal(const std::string& host) {
  in_addr addr{};
  return inet_pton(AF_INET, host.c_str(), &addr) == 1;
}

bool isIpv6Literal(const std::string& host) {
  in6_addr addr{};
  return inet_pton(AF_INET6, host.c_str(), &addr) == 1;
}

// Levenshtein distance, only to suggest the key an operator probably meant.
size_t editDistance(std::string_view a, std::string_view b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t above = row[j];
      const size_t substitution = diagonal + (a[i - 1] == b[j - 1] ? 0 : 1);
      row[j] = std::min({above + 1, row[j - 1] + 1, substitution});
      diagonal = above;
    }
  }
  return row[b.size()];
}

template <typename Names>
std::string joinAllowed(const Names& allowed) {
  std::string out;
  for (const auto& item : allowed) {
    if (!out.empty()) out += ", ";
    out += item;
  }
  return out;
}

std::string typeName(toml::value_t type) {
  switch (type) {
    case toml::value_t::boolean:
      return "a boolean";
    case toml::value_t::integer:
      return "an integer";
    case toml::value_t::floating:
      return "a float";
    case toml::value_t::string:
      return "a string";
    case toml::value_t::offset_datetime:
    case toml::value_t::local_datetime:
    case toml::value_t::local_date:
    case toml::value_t::local_time:
      return "a date/time";
    case toml::value_t::array:
      return "an array";
    case toml::value_t::table:
      return "a table";
    case toml::value_t::empty:
      break;
  }
  return "nothing";
}

int lineOf(const toml::value& value) {
  const auto line = value.location().line();
  return line == 0 ? 1 : static_cast<int>(line);
}

std::string childPath(const std::string& parent, std::string_view key) {
  if (parent.empty()) return std::string(key);
  std::string out = parent;
  out += '.';
  out += key;
  return out;
}

std::string indexPath(const std::string& parent, size_t index) {
  return parent + "[" + std::to_string(index) + "]";
}

// How an address is going to be used decides what is acceptable beyond the syntax.
enum class AddressUse {
  Listen,     // bound locally: IP literal, port 0 = any free port
  Endpoint,   // connected to: a name is fine (resolved by DNS), port 0 is not
  DnsServer,  // the resolver itself cannot be a name; port defaults to 53
};

// 0, or the errno that stopped reading `path` whole into `out`.
int readWholeFile(const std::string& path, std::string& out) {
  std::error_code error;
  if (std::filesystem::is_directory(path, error)) return EISDIR;
  std::ifstream file(path, std::ios::binary);
  if (!file) return errno != 0 ? errno : ENOENT;
  std::ostringstream text;
  text << file.rdbuf();
  if (file.bad()) return errno != 0 ? errno : EIO;
  out = std::move(text).str();
  return 0;
}

// Defined after Loader, which uses them for log.hint_catalog.
std::map<std::string, diagnose::HintText> parseHintTexts(std::string_view toml_text,
                                                         const std::string& name);

// Validates one parsed document. Each reader leaves its output untouched (the default) when the
// key is absent or invalid, so one bad value never hides the problems behind it.
class Loader {
 public:
  explicit Loader(std::string file) : file_(std::move(file)) {}

  Config load(const toml::value& root) {
    Config config;
    config.source_file = file_;
    checkKeys(root, "", kTopLevelKeys, "unknown table");

    loadServer(root, config.server);
    loadLog(root, config.log);
    loadUpstreams(root, config.upstreams);
    loadRoutes(root, config);
    loadHintOverrides(root, config);
    return config;
  }

  // The cause tables of a hint catalog file (path "") or of the config's [hints] (path "hints").
  void readHintTables(const toml::value& table, const std::string& path,
                      std::map<std::string, diagnose::HintText>& out) {
    if (!table.is_table()) return;
    const auto& causes = hintCauseNames();
    checkKeys(table, path, causes, "unknown cause");
    std::vector<std::string> names;
    for (const auto& entry : table.as_table()) names.push_back(entry.first);
    std::sort(names.begin(), names.end());
    for (const auto& name : names) {
      if (std::find(causes.begin(), causes.end(), name) == causes.end()) continue;
      const toml::value& value = table.as_table().at(name);
      const std::string cause_path = childPath(path, name);
      if (!value.is_table()) {
        wrongType(value, cause_path, "a table of en, zh and runbook such as [" + cause_path + "]");
        continue;
      }
      checkKeys(value, cause_path, kHintKeys);
      diagnose::HintText text;
      readHintString(value, "en", cause_path, false, text.en);
      readHintString(value, "zh", cause_path, false, text.zh);
      readHintString(value, "runbook", cause_path, true, text.runbook);
      out[name] = std::move(text);
    }
  }

  std::vector<ConfigProblem> takeProblems() {
    // Problems were found table by table; an operator reads them top to bottom.
    std::stable_sort(
        problems_.begin(), problems_.end(),
        [](const ConfigProblem& a, const ConfigProblem& b) { return a.line < b.line; });
    // Those of files this one names (the hint catalog) follow, in their own files' order.
    problems_.insert(problems_.end(), std::make_move_iterator(other_file_problems_.begin()),
                     std::make_move_iterator(other_file_problems_.end()));
    other_file_problems_.clear();
    return std::move(problems_);
  }

 private:
  void problem(int line, std::string key, std::string reason) {
    problems_.push_back(ConfigProblem{file_, line, std::move(key), std::move(reason)});
  }

  void wrongType(const toml::value& value, const std::string& path, std::string_view expected) {
    problem(lineOf(value), path,
            "expected " + std::string(expected) + ", got " + typeName(value.type()));
  }

  static const toml::value* find(const toml::value& table, std::string_view key) {
    if (!table.is_table()) return nullptr;
    const auto& entries = table.as_table();
    const auto it = entries.find(std::string(key));
    return it == entries.end() ? nullptr : &it->second;
  }

  template <typename Names>
  void checkKeys(const toml::value& table, const std::string& path, const Names& known,
                 std::string_view what = "unknown key") {
    if (!table.is_table()) return;
    std::vector<std::string> unknown;
    for (const auto& [key, value] : table.as_table()) {
      if (std::find(known.begin(), known.end(), key) == known.end()) unknown.push_back(key);
    }
    // The table is unordered; sorting keeps the report stable from run to run.
    std::sort(unknown.begin(), unknown.end());
    for (const auto& key : unknown) {
      std::string reason(what);
      const auto best = std::min_element(known.begin(), known.end(),
                                         [&key](std::string_view a, std::string_view b) {
                                           return editDistance(key, a) < editDistance(key, b);
                                         });
      if (best != known.end() && editDistance(key, *best) <= 2) {
        reason += " (did you mean " + inQuotes(*best) + "?)";
      }
      problem(lineOf(table.as_table().at(key)), childPath(path, key), std::move(reason));
    }
  }

  // A required key that is absent is reported on the line of its table's header.
  const toml::value* require(const toml::value& table, std::string_view key,
                             const std::string& path) {
    const toml::value* value = find(table, key);
    if (value == nullptr) problem(lineOf(table), childPath(path, key), "required key is missing");
    return value;
  }

  const std::string* readString(const toml::value& table, std::string_view key,
                                const std::string& path, std::string& out) {
    const toml::value* value = find(table, key);
    if (value == nullptr) return nullptr;
    if (!value->is_string()) {
      wrongType(*value, childPath(path, key), "a string");
      return nullptr;
    }
    out = value->as_string().str;
    return &out;
  }

  template <size_t N>
  void readChoice(const toml::value& table, std::string_view key, const std::string& path,
                  const std::array<std::string_view, N>& allowed, std::string& out) {
    const toml::value* value = find(table, key);
    if (value == nullptr) return;
    if (!value->is_string()) {
      wrongType(*value, childPath(path, key), "a string");
      return;
    }
    const std::string& text = value->as_string().str;
    if (std::find(allowed.begin(), allowed.end(), text) == allowed.end()) {
      problem(lineOf(*value), childPath(path, key),
              "must be one of " + joinAllowed(allowed) + ", got " + inQuotes(text));
      return;
    }
    out = text;
  }

  void readBool(const toml::value& table, std::string_view key, const std::string& path,
                bool& out) {
    const toml::value* value = find(table, key);
    if (value == nullptr) return;
    if (!value->is_boolean()) {
      wrongType(*value, childPath(path, key), "true or false");
      return;
    }
    out = value->as_boolean();
  }

  template <typename Int>
  void readInteger(const toml::value& table, std::string_view key, const std::string& path,
                   int64_t min, int64_t max, Int& out) {
    const toml::value* value = find(table, key);
    if (value == nullptr) return;
    if (!value->is_integer()) {
      wrongType(*value, childPath(path, key), "an integer");
      return;
    }
    const int64_t number = value->as_integer();
    if (number < min || number > max) {
      std::string reason;
      // Only the type's own limit goes unmentioned when the value is merely too small.
      const bool unbounded = max == std::numeric_limits<int64_t>::max() ||
                             static_cast<uint64_t>(max) == std::numeric_limits<Int>::max();
      if (number < min && unbounded) {
        reason = "must be at least " + std::to_string(min);
      } else {
        reason = "must be between " + std::to_string(min) + " and " + std::to_string(max);
      }
      problem(lineOf(*value), childPath(path, key), reason + ", got " + std::to_string(number));
      return;
    }
    out = static_cast<Int>(number);
  }

  // Durations that guard a wait (connect, header...) refuse 0: a zero timer would fail every
  // request at once. Only those where 0 has a documented meaning accept it.
  void readDuration(const toml::value& table, std::string_view key, const std::string& path,
                    bool zero_allowed, Duration& out) {
    const toml::value* value = find(table, key);
    if (value == nullptr) return;
    const std::string key_path = childPath(path, key);
    if (!value->is_string()) {
      wrongType(*value, key_path, "a duration string such as \"1s\"");
      return;
    }
    auto parsed = parseDuration(value->as_string().str);
    if (!parsed) {
      problem(lineOf(*value), key_path, parsed.error().message);
      return;
    }
    if (!zero_allowed && parsed->count() == 0) {
      problem(lineOf(*value), key_path, "must be greater than 0");
      return;
    }
    out = *parsed;
  }

  std::optional<HostPort> parseAddress(const toml::value& value, const std::string& path,
                                       AddressUse use) {
    if (!value.is_string()) {
      wrongType(value, path, "a \"host:port\" string");
      return std::nullopt;
    }
    const std::string& text = value.as_string().str;
    Result<HostPort> parsed = Error{};
    if (use == AddressUse::DnsServer && (isIpv4Literal(text) || isIpv6Literal(text))) {
      parsed = HostPort{text, kDefaultDnsPort, true};
    } else if (use == AddressUse::DnsServer && text.size() > 2 && text.front() == '[' &&
               text.back() == ']') {
      parsed = parseHostPort(text + ":" + std::to_string(kDefaultDnsPort));
    } else {
      parsed = parseHostPort(text);
    }
    if (!parsed) {
      problem(lineOf(value), path, parsed.error().message);
      return std::nullopt;
    }
    switch (use) {
      case AddressUse::Listen:
        if (!parsed->is_ip_literal) {
          problem(lineOf(value), path,
                  "a listen address must be an IP address such as \"127.0.0.1:8080\" or "
                  "\"[::]:8080\", got " +
                      inQuotes(text));
          return std::nullopt;
        }
        break;
      case AddressUse::DnsServer:
        if (!parsed->is_ip_literal) {
          problem(lineOf(value), path,
                  "a DNS server must be an IP address such as \"10.96.0.10:53\", got " +
                      inQuotes(text));
          return std::nullopt;
        }
        [[fallthrough]];
      case AddressUse::Endpoint:
        if (parsed->port == 0) {
          problem(lineOf(value), path, "port must be between 1 and 65535, got " + inQuotes(text));
          return std::nullopt;
        }
        break;
    }
    return std::move(parsed).value();
  }

  // An array of "host:port" strings; invalid entries are reported one by one and dropped.
  std::optional<std::vector<HostPort>> readAddressList(const toml::value& value,
                                                       const std::string& path, AddressUse use,
                                                       std::string_view example) {
    if (!value.is_array()) {
      wrongType(value, path, "an array of \"host:port\" strings such as " + std::string(example));
      return std::nullopt;
    }
    std::vector<HostPort> out;
    const auto& items = value.as_array();
    for (size_t i = 0; i < items.size(); ++i) {
      const std::string item_path = indexPath(path, i);
      auto address = parseAddress(items[i], item_path, use);
      if (!address) continue;
      if (std::find(out.begin(), out.end(), *address) != out.end()) {
        problem(lineOf(items[i]), item_path, "duplicate address " + inQuotes(address->toString()));
        continue;
      }
      out.push_back(std::move(*address));
    }
    return out;
  }

  // A top-level [table]; nullptr (after reporting) when it is something else.
  const toml::value* topTable(const toml::value& root, std::string_view key) {
    const toml::value* value = find(root, key);
    if (value != nullptr && !value->is_table()) {
      wrongType(*value, std::string(key), "a [" + std::string(key) + "] table");
      return nullptr;
    }
    return value;
  }

  // A top-level [[array of tables]]; the elements that are tables.
  std::vector<std::pair<size_t, const toml::value*>> topTableArray(const toml::value& root,
                                                                   std::string_view key) {
    std::vector<std::pair<size_t, const toml::value*>> out;
    const toml::value* value = find(root, key);
    if (value == nullptr) return out;
    if (!value->is_array()) {
      wrongType(*value, std::string(key), "[[" + std::string(key) + "]] tables");
      return out;
    }
    const auto& items = value->as_array();
    for (size_t i = 0; i < items.size(); ++i) {
      if (!items[i].is_table()) {
        wrongType(items[i], indexPath(std::string(key), i), "a table");
        continue;
      }
      out.emplace_back(i, &items[i]);
    }
    return out;
  }

  void loadServer(const toml::value& root, ServerConfig& server) {
    const std::string path = "server";
    const toml::value* table = topTable(root, path);
    if (table == nullptr) {
      // Without [server] the required listen address is still missing.
      if (find(root, path) == nullptr) problem(1, "server.listen", "required key is missing");
      return;
    }
    checkKeys(*table, path, kServerKeys);

    if (const toml::value* listen = require(*table, "listen", path)) {
      if (auto address = parseAddress(*listen, "server.listen", AddressUse::Listen)) {
        server.listen = *address;
      }
    }
    if (const toml::value* admin = find(*table, "admin_listen")) {
      if (admin->is_string() && admin->as_string().str.empty()) {
        server.admin_listen = std::nullopt;
      } else if (auto address = parseAddress(*admin, "server.admin_listen", AddressUse::Listen)) {
        if (address->port != 0 && *address == server.listen) {
          problem(lineOf(*admin), "server.admin_listen",
                  "must differ from server.listen (" + address->toString() + ")");
        } else {
          server.admin_listen = *address;
        }
      }
    }

    uint32_t workers = server.workers;
    readInteger(*table, "workers", path, 0, kMaxWorkers, workers);
    if (workers == 0) {
      // One per CPU this process may use: the affinity mask capped by the cgroup's CPU quota
      // (a Kubernetes limit), not the host's core count.
      workers = std::clamp(availableCpus(), 1U, kMaxWorkers);
    }
    server.workers = workers;

    readDuration(*table, "drain_timeout", path, true, server.drain_timeout);
    readDuration(*table, "client_header_timeout", path, false, server.client_header_timeout);
    readDuration(*table, "client_idle_timeout", path, false, server.client_idle_timeout);
    readInteger(*table, "max_request_header_bytes", path, kMinHeaderBytes,
                std::numeric_limits<int64_t>::max(), server.max_request_header_bytes);
    readInteger(*table, "max_request_body_bytes", path, 0, std::numeric_limits<int64_t>::max(),
                server.max_request_body_bytes);
    readInteger(*table, "max_client_connections", path, 0, std::numeric_limits<uint32_t>::max(),
                server.max_client_connections);
    readChoice(*table, "trace_context", path, kTraceContextModes, server.trace_context);
    readBool(*table, "watch_config", path, server.watch_config);
    if (const toml::value* dns = find(*table, "dns_servers")) {
      if (auto servers = readAddressList(*dns, "server.dns_servers", AddressUse::DnsServer,
                                         "[\"10.96.0.10:53\"]")) {
        server.dns_servers = std::move(*servers);
      }
    }
    readDuration(*table, "dns_refresh", path, false, server.dns_refresh);
    loadServerTls(*table, server);
  }

  void loadLog(const toml::value& root, LogConfig& log) {
    const std::string path = "log";
    const toml::value* table = topTable(root, path);
    if (table == nullptr) return;
    checkKeys(*table, path, kLogKeys);
    readChoice(*table, "level", path, kLogLevels, log.level);
    readChoice(*table, "format", path, kLogFormats, log.format);
    readBool(*table, "access_log", path, log.access_log);
    readChoice(*table, "hint_language", path, kHintLanguages, log.hint_language);
    readBool(*table, "expose_details", path, log.expose_details);
    readHintCatalogPath(*table, path, log.hint_catalog);
    readInteger(*table, "failure_log_burst", path, 1, std::numeric_limits<uint32_t>::max(),
                log.failure_log_burst);
    readDuration(*table, "failure_log_interval", path, false, log.failure_log_interval);
  }

  // A file named in the config: a relative path is taken relative to the config file's directory.
  std::string resolvePath(const std::string& text) const {
    std::filesystem::path resolved(text);
    if (resolved.is_relative()) {
      const std::filesystem::path base = std::filesystem::path(file_).parent_path();
      if (!base.empty()) resolved = base / resolved;
    }
    return resolved.lexically_normal().string();
  }

  // A PEM file key (tls_cert, tls_ca...): a non-empty path, resolved; its line for messages.
  bool readFilePath(const toml::value& table, std::string_view key, const std::string& path,
                    std::string& out, int& line) {
    std::string text;
    if (readString(table, key, path, text) == nullptr) return false;
    line = lineOf(table.as_table().at(std::string(key)));
    if (text.empty() || text.find('\0') != std::string::npos) {
      problem(line, childPath(path, key), "must be a file path, got " + inQuotes(text));
      return false;
    }
    out = resolvePath(text);
    return true;
  }

  // [server] tls_listen, tls_cert, tls_key: the files are loaded here, as the daemon will load
  // them, so that --check-config and startup refuse a bad certificate or key alike.
  void loadServerTls(const toml::value& table, ServerConfig& server) {
    const std::string path = "server";
    int listen_line = 0;
    if (const toml::value* listen = find(table, "tls_listen")) {
      listen_line = lineOf(*listen);
      if (auto address = parseAddress(*listen, "server.tls_listen", AddressUse::Listen)) {
        const bool clash =
            address->port != 0 && (*address == server.listen ||
                                   (server.admin_listen && *address == *server.admin_listen));
        if (clash) {
          problem(listen_line, "server.tls_listen",
                  "must differ from server.listen and server.admin_listen (" + address->toString() +
                      ")");
        } else {
          server.tls_listen = *address;
        }
      }
    }
    int cert_line = 0;
    int key_line = 0;
    const bool cert = readFilePath(table, "tls_cert", path, server.tls_cert, cert_line);
    const bool key = readFilePath(table, "tls_key", path, server.tls_key, key_line);
    if (listen_line == 0) {
      if (find(table, "tls_cert") != nullptr || find(table, "tls_key") != nullptr) {
        problem(cert_line != 0 ? cert_line : key_line,
                cert_line != 0 ? "server.tls_cert" : "server.tls_key",
                "only used with server.tls_listen, which is not set");
      }
      return;
    }
    if (find(table, "tls_cert") == nullptr) {
      problem(listen_line, "server.tls_cert", "required with server.tls_listen");
    }
    if (find(table, "tls_key") == nullptr) {
      problem(listen_line, "server.tls_key", "required with server.tls_listen");
    }
    if (!cert || !key) return;
    net::TlsLoadError error;
    if (!net::TlsServerContext::load(server.tls_cert, server.tls_key, error)) {
      const bool blame_key = error.file == net::TlsFile::Key;
      problem(blame_key ? key_line : cert_line, blame_key ? "server.tls_key" : "server.tls_cert",
              error.reason);
    }
  }

  // [[upstream]] tls...: checked together, and the files loaded as the workers will load them.
  void loadUpstreamTls(const toml::value& table, const std::string& path, UpstreamConfig& up) {
    readBool(table, "tls", path, up.tls);
    readBool(table, "tls_verify", path, up.tls_verify);
    std::map<net::TlsFile, int> lines;
    readFilePath(table, "tls_ca", path, up.tls_ca, lines[net::TlsFile::Ca]);
    readFilePath(table, "tls_client_cert", path, up.tls_client_cert,
                 lines[net::TlsFile::ClientCert]);
    readFilePath(table, "tls_client_key", path, up.tls_client_key, lines[net::TlsFile::ClientKey]);
    if (const std::string* name = readString(table, "tls_server_name", path, up.tls_server_name)) {
      const bool valid = !name->empty() && name->size() <= kMaxHostNameLength &&
                         (isIpv4Literal(*name) || isIpv6Literal(*name) ||
                          std::all_of(name->begin(), name->end(), isHostNameChar));
      if (!valid) {
        problem(lineOf(table.as_table().at("tls_server_name")), childPath(path, "tls_server_name"),
                "must be a host name or an IP address, got " + inQuotes(*name));
        up.tls_server_name.clear();
      }
    }
    if (!up.tls) {
      for (const std::string_view key :
           {"tls_verify", "tls_ca", "tls_server_name", "tls_client_cert", "tls_client_key"}) {
        if (const toml::value* value = find(table, key)) {
          problem(lineOf(*value), childPath(path, key),
                  "only used with tls = true in this [[upstream]]");
        }
      }
      return;
    }
    const bool cert = find(table, "tls_client_cert") != nullptr;
    const bool key = find(table, "tls_client_key") != nullptr;
    if (cert != key) {
      const std::string_view missing = cert ? "tls_client_key" : "tls_client_cert";
      const std::string_view present = cert ? "tls_client_cert" : "tls_client_key";
      problem(lineOf(table.as_table().at(std::string(present))), childPath(path, missing),
              "required with " + std::string(present) + " (a client certificate needs its key)");
      return;
    }
    if ((cert && up.tls_client_cert.empty()) || (key && up.tls_client_key.empty()) ||
        (find(table, "tls_ca") != nullptr && up.tls_ca.empty())) {
      return;  // reported above
    }
    net::TlsLoadError error;
    if (!net::TlsClientContext::load(net::tlsClientSettings(up), error)) {
      std::string_view key_name = "tls_ca";
      if (error.file == net::TlsFile::ClientCert) key_name = "tls_client_cert";
      if (error.file == net::TlsFile::ClientKey) key_name = "tls_client_key";
      problem(lines[error.file], childPath(path, key_name), error.reason);
    }
  }

  // log.hint_catalog: resolved against the config file's directory and loaded once here, so a
  // bad catalog stops --check-config and startup like any other config problem.
  void readHintCatalogPath(const toml::value& table, const std::string& path, std::string& out) {
    std::string text;
    if (readString(table, "hint_catalog", path, text) == nullptr || text.empty()) return;
    const toml::value& value = table.as_table().at("hint_catalog");
    const std::string key = childPath(path, "hint_catalog");
    if (text.find('\0') != std::string::npos) {
      problem(lineOf(value), key, "must be a file path, got a string with a NUL character");
      return;
    }
    const std::string resolved_text = resolvePath(text);
    std::string contents;
    if (const int error = readWholeFile(resolved_text, contents); error != 0) {
      problem(lineOf(value), key,
              "cannot read hint catalog " + inQuotes(resolved_text) + ": " + std::strerror(error));
      return;
    }
    try {
      (void)parseHintTexts(contents, resolved_text);
    } catch (const ConfigError& e) {
      other_file_problems_.insert(other_file_problems_.end(), e.problems().begin(),
                                  e.problems().end());
      const size_t count = e.problems().size();
      problem(lineOf(value), key,
              "hint catalog " + inQuotes(resolved_text) + " is invalid (" + std::to_string(count) +
                  (count == 1 ? " problem" : " problems") + ", listed after this file's)");
      return;
    }
    out = resolved_text;
  }

  void loadHintOverrides(const toml::value& root, Config& config) {
    const toml::value* table = topTable(root, "hints");
    if (table == nullptr) return;
    readHintTables(*table, "hints", config.hint_overrides);
  }

  // One text of a cause table. A hint is one field of one log line, so it must be one line, and
  // every {placeholder} must be evidence the proxy can fill in (a typo would render as "?").
  void readHintString(const toml::value& table, std::string_view key, const std::string& path,
                      bool is_url, std::string& out) {
    const toml::value* value = find(table, key);
    if (value == nullptr) return;
    const std::string key_path = childPath(path, key);
    if (!value->is_string()) {
      wrongType(*value, key_path, "a string");
      return;
    }
    const std::string& text = value->as_string().str;
    const int line = lineOf(*value);
    if (text.empty()) {
      problem(line, key_path, "must not be empty (leave the key out to keep the built-in text)");
      return;
    }
    const bool control = std::any_of(text.begin(), text.end(), [](char c) {
      return static_cast<unsigned char>(c) < ' ' || c == '\x7f';
    });
    if (control) {
      problem(line, key_path,
              "must be a single line without control characters (a hint is one log field)");
      return;
    }
    if (is_url && text.find(' ') != std::string::npos) {
      problem(line, key_path, "must be a URL without spaces, got " + inQuotes(text));
      return;
    }
    const auto known = diagnose::hintPlaceholderNames();
    for (const auto& name : diagnose::templatePlaceholders(text)) {
      if (std::find(known.begin(), known.end(), name) != known.end()) continue;
      std::string reason = "unknown placeholder {" + name + "}";
      const auto best = std::min_element(known.begin(), known.end(),
                                         [&name](std::string_view a, std::string_view b) {
                                           return editDistance(name, a) < editDistance(name, b);
                                         });
      if (best != known.end() && editDistance(name, *best) <= 2) {
        reason += " (did you mean {" + std::string(*best) + "}?)";
      }
      reason += "; write {{ for a literal brace";
      problem(line, key_path, std::move(reason));
      return;
    }
    out = text;
  }

  void loadUpstreams(const toml::value& root, std::vector<UpstreamConfig>& upstreams) {
    const auto tables = topTableArray(root, "upstream");
    const toml::value* declared = find(root, "upstream");
    if (declared == nullptr || (declared->is_array() && declared->as_array().empty())) {
      problem(declared == nullptr ? 1 : lineOf(*declared), "upstream",
              "at least one [[upstream]] is required");
      return;
    }
    // name -> line of its first definition, for the duplicate message.
    std::vector<std::pair<std::string, int>> seen;
    for (const auto& [index, table] : tables) {
      const std::string path = indexPath("upstream", index);
      checkKeys(*table, path, kUpstreamKeys);
      UpstreamConfig upstream;
      bool valid = true;

      if (const toml::value* name = require(*table, "name", path)) {
        const std::string key = childPath(path, "name");
        if (!name->is_string()) {
          wrongType(*name, key, "a string");
          valid = false;
        } else {
          upstream.name = name->as_string().str;
          const auto previous =
              std::find_if(seen.begin(), seen.end(),
                           [&upstream](const auto& entry) { return entry.first == upstream.name; });
          if (upstream.name.empty() ||
              !std::all_of(upstream.name.begin(), upstream.name.end(), isHostNameChar)) {
            // The name is a metric label and a log field: keep it plain.
            problem(lineOf(*name), key,
                    "must be non-empty and use only letters, digits, '-', '.' and '_', got " +
                        inQuotes(upstream.name));
            valid = false;
          } else if (previous != seen.end()) {
            problem(lineOf(*name), key,
                    "duplicate upstream name " + inQuotes(upstream.name) +
                        " (first defined on line " + std::to_string(previous->second) + ")");
            valid = false;
          } else {
            seen.emplace_back(upstream.name, lineOf(*name));
          }
        }
      } else {
        valid = false;
      }

      if (const toml::value* endpoints = require(*table, "endpoints", path)) {
        const std::string key = childPath(path, "endpoints");
        if (auto list =
                readAddressList(*endpoints, key, AddressUse::Endpoint, "[\"127.0.0.1:8081\"]")) {
          if (endpoints->as_array().empty()) {
            problem(lineOf(*endpoints), key, "must list at least one \"host:port\" endpoint");
          }
          upstream.endpoints = std::move(*list);
        }
      }

      readDuration(*table, "connect_timeout", path, false, upstream.connect_timeout);
      readDuration(*table, "response_header_timeout", path, false,
                   upstream.response_header_timeout);
      readDuration(*table, "body_idle_timeout", path, false, upstream.body_idle_timeout);
      readDuration(*table, "request_timeout", path, true, upstream.request_timeout);
      readInteger(*table, "max_connections", path, 1, std::numeric_limits<uint32_t>::max(),
                  upstream.max_connections);
      readInteger(*table, "max_pending", path, 0, std::numeric_limits<uint32_t>::max(),
                  upstream.max_pending);
      readDuration(*table, "pending_timeout", path, false, upstream.pending_timeout);
      readDuration(*table, "keepalive_idle_timeout", path, false, upstream.keepalive_idle_timeout);
      if (find(*table, "max_idle_connections") != nullptr) {
        uint32_t cap = 0;
        readInteger(*table, "max_idle_connections", path, 0, std::numeric_limits<uint32_t>::max(),
                    cap);
        upstream.max_idle_connections = cap;
      }
      readInteger(*table, "max_response_header_bytes", path, kMinHeaderBytes,
                  std::numeric_limits<int64_t>::max(), upstream.max_response_header_bytes);
      readInteger(*table, "retries", path, 0, kMaxRetries, upstream.retries);
      readChoice(*table, "reuse", path, kReuseModes, upstream.reuse);
      loadUpstreamTls(*table, path, upstream);

      // A nameless or duplicate upstream is not kept, so routes to it are not double-reported.
      if (valid) upstreams.push_back(std::move(upstream));
    }
  }

  // Lowercased, brackets stripped from IPv6 literals: the form the router compares against.
  std::optional<std::string> normalizeRouteHost(const toml::value& value, const std::string& key) {
    const std::string& text = value.as_string().str;
    std::string host = text;
    if (host.size() > 2 && host.front() == '[' && host.back() == ']') {
      host = host.substr(1, host.size() - 2);
      if (!isIpv6Literal(host)) {
        problem(lineOf(value), key, inQuotes(text) + " is not a valid IPv6 address");
        return std::nullopt;
      }
      return toLower(host);
    }
    if (isIpv6Literal(host)) return toLower(host);
    if (host.find(':') != std::string::npos) {
      problem(lineOf(value), key,
              "must be a host name without a port (the Host header's port is ignored), got " +
                  inQuotes(text));
      return std::nullopt;
    }
    if (host.empty() || host.size() > kMaxHostNameLength + 1 ||
        !std::all_of(host.begin(), host.end(), isHostNameChar)) {
      problem(lineOf(value), key,
              "must be a host name such as \"api.example.com\" (letters, digits, '-', '.', '_'; "
              "no wildcards), got " +
                  inQuotes(text));
      return std::nullopt;
    }
    // "example.com." and "example.com" name the same host.
    if (host.size() > 1 && host.back() == '.') host.pop_back();
    return toLower(host);
  }

  void loadRoutes(const toml::value& root, Config& config) {
    const auto tables = topTableArray(root, "route");
    // (prefix, host) -> route index, for the duplicate message.
    std::vector<std::pair<std::pair<std::string, std::optional<std::string>>, size_t>> seen;
    for (const auto& [index, table] : tables) {
      const std::string path = indexPath("route", index);
      checkKeys(*table, path, kRouteKeys);
      RouteConfig route;
      bool valid = true;
      int prefix_line = lineOf(*table);

      if (const std::string* prefix = readString(*table, "prefix", path, route.prefix)) {
        const toml::value& value = table->as_table().at("prefix");
        prefix_line = lineOf(value);
        const bool bad_char = std::any_of(prefix->begin(), prefix->end(), [](char c) {
          return c == '?' || c == '#' || static_cast<unsigned char>(c) <= ' ' || c == '\x7f';
        });
        if (prefix->empty() || prefix->front() != '/') {
          problem(prefix_line, childPath(path, "prefix"),
                  "must start with '/', got " + inQuotes(*prefix));
          valid = false;
        } else if (bad_char) {
          problem(prefix_line, childPath(path, "prefix"),
                  "must be a plain path (no query, fragment, spaces or control characters), got " +
                      inQuotes(*prefix));
          valid = false;
        }
      } else if (find(*table, "prefix") != nullptr) {
        valid = false;
      }

      if (const toml::value* host = find(*table, "host")) {
        const std::string key = childPath(path, "host");
        if (!host->is_string()) {
          wrongType(*host, key, "a string");
          valid = false;
        } else if (auto normalized = normalizeRouteHost(*host, key)) {
          route.host = std::move(*normalized);
        } else {
          valid = false;
        }
      }

      if (const toml::value* upstream = require(*table, "upstream", path)) {
        const std::string key = childPath(path, "upstream");
        if (!upstream->is_string()) {
          wrongType(*upstream, key, "a string");
          valid = false;
        } else {
          route.upstream = upstream->as_string().str;
          if (config.findUpstream(route.upstream) == nullptr && !upstreamDeclared(root, route)) {
            std::string known;
            for (const auto& candidate : config.upstreams) {
              if (!known.empty()) known += ", ";
              known += candidate.name;
            }
            problem(lineOf(*upstream), key,
                    "unknown upstream " + inQuotes(route.upstream) +
                        (known.empty() ? std::string() : " (known: " + known + ")"));
            valid = false;
          }
        }
      } else {
        valid = false;
      }

      if (!valid) continue;
      auto identity = std::make_pair(route.prefix, route.host);
      const auto previous = std::find_if(seen.begin(), seen.end(), [&identity](const auto& entry) {
        return entry.first == identity;
      });
      if (previous != seen.end()) {
        problem(prefix_line, childPath(path, "prefix"),
                "duplicate route: route[" + std::to_string(previous->second) +
                    "] already has prefix " + inQuotes(route.prefix) +
                    (route.host ? " and host " + inQuotes(*route.host) : " and no host"));
        continue;
      }
      seen.emplace_back(std::move(identity), index);
      config.routes.push_back(std::move(route));
    }

    // `route = []` is read like no routes at all: it cannot serve anything either.
    const toml::value* declared = find(root, "route");
    if (declared != nullptr && !(declared->is_array() && declared->as_array().empty())) return;
    if (config.upstreams.size() == 1) {
      // The common single-backend case needs no [[route]] at all.
      config.routes.push_back(RouteConfig{"/", std::nullopt, config.upstreams.front().name});
    } else if (config.upstreams.size() > 1) {
      problem(1, "route",
              "no [[route]] given but there are " + std::to_string(config.upstreams.size()) +
                  " upstreams; add [[route]] tables saying which prefix goes to which upstream");
    }
  }

  // An upstream that was declared but rejected (say, a bad endpoint list keeps its name valid,
  // but a wrong-typed name does not) is already reported; do not blame the route for it too.
  static bool upstreamDeclared(const toml::value& root, const RouteConfig& route) {
    const toml::value* upstreams = find(root, "upstream");
    if (upstreams == nullptr || !upstreams->is_array()) return false;
    for (const auto& table : upstreams->as_array()) {
      const toml::value* name = find(table, "name");
      if (name != nullptr && name->is_string() && name->as_string().str == route.upstream) {
        return true;
      }
    }
    return false;
  }

  std::string file_;
  std::vector<ConfigProblem> problems_;
  std::vector<ConfigProblem> other_file_problems_;
};

// toml11 v3 reports syntax errors as a multi-line, human-formatted message:
//   [error] toml::parse_table: invalid line format
//    --> file.toml
//      |
//    4 | listen = "a" x
//      |              ^--- expected newline, but got 'x'.
// We keep the first line's text, the last underline's note and the last quoted line number.
ConfigProblem syntaxProblem(const std::string& file, const std::string& what, int fallback_line) {
  std::istringstream lines(what);
  std::string line;
  std::string summary;
  std::string note;
  int line_number = 0;
  bool first = true;
  while (std::getline(lines, line)) {
    if (first) {
      first = false;
      summary = line;
      if (summary.rfind("[error] ", 0) == 0) summary.erase(0, 8);
      // Drop the internal "toml::parse_xyz: " function name.
      if (summary.rfind("toml::", 0) == 0) {
        const auto colon = summary.find(": ");
        if (colon != std::string::npos) summary.erase(0, colon + 2);
      }
      continue;
    }
    size_t pos = line.find_first_not_of(' ');
    if (pos == std::string::npos) continue;
    if (isDigit(line[pos])) {
      int number = 0;
      while (pos < line.size() && isDigit(line[pos]) && number < 100'000'000) {
        number = number * 10 + (line[pos] - '0');
        ++pos;
      }
      if (line.compare(pos, 2, " |") == 0) line_number = number;
      continue;
    }
    if (line[pos] == '|') {
      const auto marker = line.find_first_of("^~", pos);
      if (marker == std::string::npos) continue;
      const auto text = line.find_first_not_of("^~- ", marker);
      if (text != std::string::npos) note = line.substr(text);
    }
  }
  while (!note.empty() && (note.back() == '.' || note.back() == ' ')) note.pop_back();
  std::string reason =
      "TOML syntax error: " + (summary.empty() ? std::string("invalid TOML") : summary);
  if (!note.empty()) reason += " (" + note + ")";
  return ConfigProblem{file, line_number > 0 ? line_number : fallback_line, "syntax",
                       std::move(reason)};
}

// Parses one digits[.digits] number and one unit of a duration; advances `pos`.
Result<int64_t> parseDurationTerm(std::string_view text, size_t& pos) {
  const std::string example(kDurationExpected);
  int64_t whole = 0;
  bool any_digit = false;
  bool overflow = false;
  while (pos < text.size() && isDigit(text[pos])) {
    any_digit = true;
    if (whole > (std::numeric_limits<int64_t>::max() - 9) / 10) overflow = true;
    if (!overflow) whole = whole * 10 + (text[pos] - '0');
    ++pos;
  }
  // Up to 9 fractional digits count (nanosecond precision); more are accepted and ignored.
  int64_t fraction = 0;
  int64_t fraction_scale = 1;
  if (pos < text.size() && text[pos] == '.') {
    ++pos;
    bool fraction_digit = false;
    while (pos < text.size() && isDigit(text[pos])) {
      fraction_digit = true;
      if (fraction_scale < 1'000'000'000) {
        fraction = fraction * 10 + (text[pos] - '0');
        fraction_scale *= 10;
      }
      ++pos;
    }
    if (!fraction_digit) any_digit = false;
  }
  if (!any_digit) return Error{"invalid duration " + inQuotes(text) + "; " + example};

  const size_t unit_start = pos;
  while (pos < text.size() && isAlpha(text[pos])) ++pos;
  const std::string_view unit = text.substr(unit_start, pos - unit_start);
  int64_t unit_ms = 0;
  if (unit == "ms") {
    unit_ms = 1;
  } else if (unit == "s") {
    unit_ms = 1'000;
  } else if (unit == "m") {
    unit_ms = 60'000;
  } else if (unit == "h") {
    unit_ms = 3'600'000;
  } else if (unit.empty()) {
    return Error{"duration " + inQuotes(text) + " has no unit (ms, s, m or h); " + example};
  } else {
    return Error{"unknown unit " + inQuotes(unit) + " in duration " + inQuotes(text) +
                 " (use ms, s, m or h); " + example};
  }
  if (overflow || whole > std::numeric_limits<int64_t>::max() / unit_ms - 1) {
    return Error{"duration " + inQuotes(text) + " is too large"};
  }
  // fraction < 1e9 and unit_ms <= 3.6e6, so the product fits in int64.
  const int64_t fraction_ms = (fraction * unit_ms + fraction_scale / 2) / fraction_scale;
  return whole * unit_ms + fraction_ms;
}

}  // namespace

Result<Duration> parseDuration(std::string_view text) {
  const std::string example(kDurationExpected);
  if (text.empty()) return Error{"empty duration; " + example};
  if (text.front() == '-') {
    return Error{"negative duration " + inQuotes(text) + " is not allowed; " + example};
  }
  // Go-style compounds ("1m30s") are accepted: operators paste them from Kubernetes manifests.
  size_t pos = 0;
  int64_t total = 0;
  while (pos < text.size()) {
    auto term = parseDurationTerm(text, pos);
    if (!term) return term.error();
    if (*term > std::numeric_limits<int64_t>::max() - total) {
      return Error{"duration " + inQuotes(text) + " is too large"};
    }
    total += *term;
  }
  return Duration{total};
}

Result<HostPort> parseHostPort(std::string_view text) {
  const std::string example = R"(expected "host:port" such as "127.0.0.1:8080" or "[::1]:8080")";
  if (text.empty()) return Error{"empty address; " + example};
  HostPort out;
  std::string_view port_text;
  if (text.front() == '[') {
    const auto close = text.find(']');
    if (close == std::string_view::npos) {
      return Error{"missing ']' in " + inQuotes(text) + "; " + example};
    }
    out.host = std::string(text.substr(1, close - 1));
    if (!isIpv6Literal(out.host)) {
      return Error{inQuotes(out.host) + " in " + inQuotes(text) + " is not a valid IPv6 address"};
    }
    const std::string_view rest = text.substr(close + 1);
    if (rest.empty()) return Error{"missing port in " + inQuotes(text) + "; " + example};
    if (rest.front() != ':') return Error{"expected ':' after ']' in " + inQuotes(text)};
    port_text = rest.substr(1);
    out.is_ip_literal = true;
  } else {
    const auto colon = text.rfind(':');
    if (colon == std::string_view::npos) {
      return Error{"missing port in " + inQuotes(text) + "; " + example};
    }
    out.host = std::string(text.substr(0, colon));
    port_text = text.substr(colon + 1);
    if (out.host.find(':') != std::string::npos) {
      return Error{"IPv6 addresses need brackets, e.g. \"[::1]:8080\", got " + inQuotes(text)};
    }
    if (out.host.empty()) return Error{"missing host in " + inQuotes(text) + "; " + example};
    if (isIpv4Literal(out.host)) {
      out.is_ip_literal = true;
    } else if (std::all_of(out.host.begin(), out.host.end(),
                           [](char c) { return isDigit(c) || c == '.'; })) {
      // Digits and dots only would otherwise be sent to DNS as a name and fail obscurely.
      return Error{inQuotes(out.host) + " is not a valid IPv4 address"};
    } else if (out.host.size() > kMaxHostNameLength + 1 ||
               !std::all_of(out.host.begin(), out.host.end(), isHostNameChar) ||
               out.host.front() == '-' || out.host.front() == '.') {
      return Error{inQuotes(out.host) +
                   " is not a valid host name (letters, digits, '-', '.' and '_' only)"};
    }
  }
  if (port_text.empty()) return Error{"missing port in " + inQuotes(text) + "; " + example};
  uint32_t port = 0;
  for (const char c : port_text) {
    if (!isDigit(c) || port > 65535) {
      port = 65536;
      break;
    }
    port = port * 10 + static_cast<uint32_t>(c - '0');
  }
  if (port > 65535) {
    return Error{"port must be a number between 0 and 65535, got " + inQuotes(port_text)};
  }
  out.port = static_cast<uint16_t>(port);
  return out;
}

namespace {

// TOML is UTF-8 (spec 1.0, "Spec"). toml11 3.7 reads past the end of its buffer on some invalid
// sequences (a literal-string key of 0xff bytes, found by tests/fuzz/config_fuzz.cc), so no
// byte reaches it before the whole text is known to be UTF-8.
void requireUtf8(std::string_view text, const std::string& file_name) {
  int line = 1;
  size_t line_start = 0;
  for (size_t i = 0; i < text.size();) {
    if (text[i] == '\n') {
      ++line;
      line_start = ++i;
      continue;
    }
    const size_t n = utf8SequenceLength(text, i);
    if (n == 0) {
      throw ConfigError({ConfigProblem{
          file_name, line, "syntax",
          fmt::format("TOML syntax error: byte 0x{:02X} at column {} is not UTF-8, which TOML "
                      "files must be",
                      static_cast<unsigned char>(text[i]), i - line_start + 1)}});
    }
    i += n;
  }
}

// Throws ConfigError for anything toml11 rejects.
toml::value parseToml(std::string_view toml_text, const std::string& file_name) {
  requireUtf8(toml_text, file_name);
  try {
    std::istringstream stream{std::string(toml_text)};
    return toml::parse(stream, file_name);
  } catch (const toml::syntax_error& e) {
    throw ConfigError({syntaxProblem(file_name, e.what(), static_cast<int>(e.location().line()))});
  } catch (const toml::exception& e) {
    throw ConfigError({syntaxProblem(file_name, e.what(), static_cast<int>(e.location().line()))});
  } catch (const std::exception& e) {
    throw ConfigError({syntaxProblem(file_name, e.what(), 1)});
  }
}

std::map<std::string, diagnose::HintText> parseHintTexts(std::string_view toml_text,
                                                         const std::string& name) {
  const toml::value root = parseToml(toml_text, name);
  Loader loader(name);
  std::map<std::string, diagnose::HintText> texts;
  try {
    loader.readHintTables(root, "", texts);
  } catch (const std::exception& e) {
    // As in loadConfigString: a bug, but no toml11 exception may leave this file.
    throw ConfigError({ConfigProblem{name, 1, "hints",
                                     std::string("internal error while validating: ") + e.what()}});
  }
  auto problems = loader.takeProblems();
  if (!problems.empty()) throw ConfigError(std::move(problems));
  return texts;
}

std::map<std::string, diagnose::HintText> readHintTextsFile(const std::string& path) {
  std::string text;
  if (const int error = readWholeFile(path, text); error != 0) {
    throw ConfigError({ConfigProblem{
        path, 0, "file", "cannot read hint catalog: " + std::string(std::strerror(error))}});
  }
  return parseHintTexts(text, path);
}

}  // namespace

Config loadConfigString(std::string_view toml_text, const std::string& file_name) {
  const toml::value root = parseToml(toml_text, file_name);

  Loader loader(file_name);
  Config config;
  try {
    config = loader.load(root);
  } catch (const std::exception& e) {
    // The loader checks every type before reading it, so this is a bug; still, no toml11
    // exception may leave this file.
    throw ConfigError({ConfigProblem{file_name, 1, "config",
                                     std::string("internal error while validating: ") + e.what()}});
  }
  auto problems = loader.takeProblems();
  if (!problems.empty()) throw ConfigError(std::move(problems));
  return config;
}

Config loadConfigFile(const std::string& path) {
  std::ifstream file(path, std::ios::binary);
  if (!file) {
    const int error = errno;
    throw ConfigError({ConfigProblem{
        path, 0, "file", "cannot open config file: " + std::string(std::strerror(error))}});
  }
  std::ostringstream text;
  text << file.rdbuf();
  if (file.bad()) {
    const int error = errno;
    throw ConfigError({ConfigProblem{
        path, 0, "file", "cannot read config file: " + std::string(std::strerror(error))}});
  }
  return loadConfigString(text.str(), path);
}

diagnose::HintCatalog loadHintCatalog(std::string_view toml_text, const std::string& name) {
  diagnose::HintCatalog catalog;
  for (auto& [cause, text] : parseHintTexts(toml_text, name)) catalog.set(cause, std::move(text));
  return catalog;
}

diagnose::HintCatalog loadHintCatalogFile(const std::string& path) {
  diagnose::HintCatalog catalog;
  for (auto& [cause, text] : readHintTextsFile(path)) catalog.set(cause, std::move(text));
  return catalog;
}

const diagnose::HintCatalog& defaultHintCatalog() {
  static const diagnose::HintCatalog catalog =
      loadHintCatalog(diagnose::defaultHintCatalogToml(), std::string(kBuiltinHintCatalogName));
  return catalog;
}

diagnose::HintCatalog buildHintCatalog(const Config& config) {
  diagnose::HintCatalog catalog = defaultHintCatalog();
  if (!config.log.hint_catalog.empty()) {
    for (const auto& [cause, text] : readHintTextsFile(config.log.hint_catalog)) {
      catalog.overrideCause(cause, text);
    }
  }
  for (const auto& [cause, text] : config.hint_overrides) catalog.overrideCause(cause, text);
  return catalog;
}

}  // namespace triaged::config
