#pragma once

// One spdlog logger per component (Envoy's ALL_LOGGER_IDS), all writing to one stdout sink in the
// configured format. Structured events are built with LogEvent and logged as their payload; the
// formatter merges them into one JSON object (or one key=value text line).

#include <spdlog/spdlog.h>

#include <cstdint>
#include <string>
#include <string_view>

namespace triaged::config {
struct LogConfig;
}

namespace triaged::observe {

enum class LoggerId : uint8_t { Server, Listener, Conn, Router, Upstream, Diagnose, Admin, Config };

// Sets up every logger. Safe to call again (tests); the last call wins.
void initLogging(const config::LogConfig& config);
// A reload changed log.level: every logger, at once (spdlog's level is atomic, so the workers
// need no lock). The format cannot change in a running process.
void setLogLevel(const std::string& level);
spdlog::logger& logger(LoggerId id);
bool jsonFormat();

// A structured log line: {"event":"...","key":value,...}. Keys keep insertion order.
class LogEvent {
 public:
  explicit LogEvent(std::string_view event);
  LogEvent& add(std::string_view key, std::string_view value);
  LogEvent& add(std::string_view key, const char* value) {
    return add(key, std::string_view(value));
  }
  LogEvent& add(std::string_view key, int64_t value);
  LogEvent& add(std::string_view key, uint64_t value);
  LogEvent& add(std::string_view key, int value) { return add(key, static_cast<int64_t>(value)); }
  LogEvent& add(std::string_view key, unsigned value) {
    return add(key, static_cast<uint64_t>(value));
  }
  LogEvent& add(std::string_view key, double value);
  LogEvent& add(std::string_view key, bool value);
  LogEvent& addNull(std::string_view key);
  // A name that some events lack (an errno name): the name, or null (text format: -) when empty,
  // the way every other absent value is written.
  LogEvent& addNameOrNull(std::string_view key, std::string_view name) {
    return name.empty() ? addNull(key) : add(key, name);
  }

  // JSON object text, or "event key=value ..." when the configured format is text.
  std::string str() const;

 private:
  void key(std::string_view k);
  std::string json_;
  std::string text_;
};

}  // namespace triaged::observe
