#include "triaged/observe/failure_log.h"

#include "triaged/observe/loggers.h"

namespace triaged::observe {

FailureLogLimiter::FailureLogLimiter(uint32_t burst, std::chrono::milliseconds interval)
    : burst_(burst), interval_(interval) {}

bool FailureLogLimiter::admit(std::string_view key, TimePoint now) {
  auto it = windows_.find(key);
  if (it == windows_.end()) it = windows_.emplace(std::string(key), Window{now, 0, 0}).first;
  Window& w = it->second;
  if (now - w.start >= interval_ && w.suppressed == 0) {
    w.start = now;
    w.logged = 0;
  }
  if (w.logged < burst_ && w.suppressed == 0) {
    ++w.logged;
    return true;
  }
  ++w.suppressed;
  return false;
}

std::vector<FailureLogLimiter::Suppressed> FailureLogLimiter::takeSuppressed(TimePoint now) {
  std::vector<Suppressed> out;
  for (auto& [key, w] : windows_) {
    if (w.suppressed > 0 && now - w.start >= interval_) {
      out.push_back({key, w.suppressed});
      w.suppressed = 0;
      w.logged = 0;
      w.start = now;
    }
  }
  return out;
}

bool FailureLogLimiter::anySuppressed() const {
  for (const auto& [key, w] : windows_) {
    if (w.suppressed > 0) return true;
  }
  return false;
}

FailureLog::FailureLog(EventLoop& loop, uint32_t burst, std::chrono::milliseconds interval)
    : loop_(loop),
      interval_(interval),
      limiter_(burst, interval),
      timer_(loop, [this] { flush(); }) {}

void FailureLog::write(std::string_view event, std::string_view upstream, std::string_view cause,
                       const std::string& line) {
  std::string key;
  key.reserve(event.size() + upstream.size() + cause.size() + 2);
  key.append(event).append(1, '\0').append(upstream).append(1, '\0').append(cause);
  if (limiter_.admit(key, loop_.now())) {
    logger(LoggerId::Diagnose).warn(line);
    return;
  }
  if (!timer_.armed()) timer_.arm(interval_);
}

void FailureLog::setLimits(uint32_t burst, std::chrono::milliseconds interval) {
  interval_ = interval;
  limiter_.setLimits(burst, interval);
}

void FailureLog::flush() {
  for (const auto& s : limiter_.takeSuppressed(loop_.now())) {
    const std::string_view key = s.key;
    const auto first = key.find('\0');
    const auto second = key.find('\0', first + 1);
    LogEvent ev(std::string(key.substr(0, first)) + "_suppressed");
    ev.add("upstream", key.substr(first + 1, second - first - 1))
        .add("cause", key.substr(second + 1))
        .add("suppressed", s.count)
        .add("interval_ms", static_cast<int64_t>(interval_.count()));
    logger(LoggerId::Diagnose).warn(ev.str());
  }
  if (limiter_.anySuppressed()) timer_.arm(interval_);
}

}  // namespace triaged::observe
