#include "triaged/observe/loggers.h"

#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/stdout_sinks.h>

#include <array>
#include <atomic>
#include <chrono>
#include <cmath>
#include <ctime>
#include <memory>

#include "triaged/config/config.h"
#include "triaged/core/text.h"

namespace triaged::observe {
namespace {

constexpr std::array<const char*, 8> kLoggerNames{"server",   "listener", "conn",  "router",
                                                  "upstream", "diagnose", "admin", "config"};

std::array<std::shared_ptr<spdlog::logger>, kLoggerNames.size()>& loggers() {
  static std::array<std::shared_ptr<spdlog::logger>, kLoggerNames.size()> all;
  return all;
}

std::atomic<bool> g_json{true};

void appendTimestamp(std::string& out, spdlog::log_clock::time_point tp) {
  const auto since = tp.time_since_epoch();
  const auto secs = std::chrono::duration_cast<std::chrono::seconds>(since);
  const auto millis = std::chrono::duration_cast<std::chrono::milliseconds>(since - secs).count();
  const std::time_t t = static_cast<std::time_t>(secs.count());
  std::tm tm{};
  gmtime_r(&t, &tm);
  std::array<char, 40> buf{};
  const size_t n = std::strftime(buf.data(), buf.size(), "%Y-%m-%dT%H:%M:%S", &tm);
  out.append(buf.data(), n);
  fmt::format_to(std::back_inserter(out), ".{:03d}Z", millis);
}

// Renders every record as one line. JSON: {"ts":..,"level":..,"logger":..} merged with the
// payload when the payload is a LogEvent object, else the payload goes into "msg".
class LineFormatter final : public spdlog::formatter {
 public:
  explicit LineFormatter(bool json) : json_(json) {}

  void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override {
    std::string line;
    line.reserve(msg.payload.size() + 96);
    const std::string_view payload(msg.payload.data(), msg.payload.size());
    const auto level = spdlog::level::to_string_view(msg.level);
    if (json_) {
      line += "{\"ts\":\"";
      appendTimestamp(line, msg.time);
      line += "\",\"level\":\"";
      line.append(level.data(), level.size());
      line += "\",\"logger\":\"";
      line.append(msg.logger_name.data(), msg.logger_name.size());
      line += "\",";
      if (payload.size() >= 2 && payload.front() == '{' && payload.back() == '}') {
        line.append(payload.substr(1));
      } else {
        line += "\"msg\":\"";
        appendJsonEscaped(line, payload);
        line += "\"}";
      }
    } else {
      appendTimestamp(line, msg.time);
      line += ' ';
      line.append(level.data(), level.size());
      line += ' ';
      line.append(msg.logger_name.data(), msg.logger_name.size());
      line += ": ";
      line.append(payload);
    }
    line += '\n';
    dest.append(line.data(), line.data() + line.size());
  }

  std::unique_ptr<spdlog::formatter> clone() const override {
    return std::make_unique<LineFormatter>(json_);
  }

 private:
  bool json_;
};

}  // namespace

void initLogging(const config::LogConfig& config) {
  g_json = config.format != "text";
  auto sink = std::make_shared<spdlog::sinks::stdout_sink_mt>();
  sink->set_formatter(std::make_unique<LineFormatter>(g_json));
  const auto level = spdlog::level::from_str(config.level);
  for (size_t i = 0; i < kLoggerNames.size(); ++i) {
    auto l = std::make_shared<spdlog::logger>(kLoggerNames[i], sink);
    l->set_level(level);
    // Operators tail stdout through a pipe: every line must arrive at once, not at exit.
    l->flush_on(spdlog::level::trace);
    loggers()[i] = std::move(l);
  }
}

void setLogLevel(const std::string& level) {
  const auto l = spdlog::level::from_str(level);
  for (auto& logger : loggers()) {
    if (logger) logger->set_level(l);
  }
}

spdlog::logger& logger(LoggerId id) {
  auto& l = loggers()[static_cast<size_t>(id)];
  if (!l) initLogging(config::LogConfig{});
  return *l;
}

bool jsonFormat() { return g_json; }

LogEvent::LogEvent(std::string_view event) {
  json_ = "{\"event\":\"";
  appendJsonEscaped(json_, event);
  json_ += '"';
  text_.assign(event);
}

void LogEvent::key(std::string_view k) {
  json_ += ",\"";
  json_.append(k);
  json_ += "\":";
  text_ += ' ';
  text_.append(k);
  text_ += '=';
}

LogEvent& LogEvent::add(std::string_view k, std::string_view value) {
  key(k);
  json_ += '"';
  appendJsonEscaped(json_, value);
  json_ += '"';
  const bool quote = value.empty() || value.find_first_of(" \"=") != std::string_view::npos;
  if (quote) text_ += '"';
  appendJsonEscaped(text_, value);
  if (quote) text_ += '"';
  return *this;
}

LogEvent& LogEvent::add(std::string_view k, int64_t value) {
  key(k);
  const auto s = std::to_string(value);
  json_ += s;
  text_ += s;
  return *this;
}

LogEvent& LogEvent::add(std::string_view k, uint64_t value) {
  key(k);
  const auto s = std::to_string(value);
  json_ += s;
  text_ += s;
  return *this;
}

LogEvent& LogEvent::add(std::string_view k, double value) {
  // JSON has no NaN or infinity (RFC 8259 6): a value that is not a number was not measured.
  if (!std::isfinite(value)) return addNull(k);
  key(k);
  const auto s = fmt::format("{:.3f}", value);
  json_ += s;
  text_ += s;
  return *this;
}

LogEvent& LogEvent::add(std::string_view k, bool value) {
  key(k);
  json_ += value ? "true" : "false";
  text_ += value ? "true" : "false";
  return *this;
}

LogEvent& LogEvent::addNull(std::string_view k) {
  key(k);
  json_ += "null";
  text_ += '-';
  return *this;
}

std::string LogEvent::str() const { return g_json ? json_ + "}" : text_; }

}  // namespace triaged::observe
