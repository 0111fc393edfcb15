#pragma once

// Failure lines, rate-limited per (event, upstream, cause) but never silent: in each interval the
// first `burst` lines of a key are logged in full; the rest are counted and reported by one
// summary line ("<event>_suppressed") when the interval ends. Every line that reports a failure
// goes through one (FailureReporter), client-side ones included. One per event loop, so no lock
// is taken.

#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "triaged/core/event_loop.h"

namespace triaged::observe {

// The pure part: which lines to let through, and what was held back.
class FailureLogLimiter {
 public:
  using TimePoint = std::chrono::steady_clock::time_point;

  FailureLogLimiter(uint32_t burst, std::chrono::milliseconds interval);

  // True when a line for `key` may be logged in full now.
  bool admit(std::string_view key, TimePoint now);

  struct Suppressed {
    std::string key;
    uint64_t count = 0;
  };
  void setLimits(uint32_t burst, std::chrono::milliseconds interval) {
    burst_ = burst;
    interval_ = interval;
  }
  // Keys whose interval has ended with lines held back; their counts restart at zero.
  std::vector<Suppressed> takeSuppressed(TimePoint now);
  bool anySuppressed() const;

 private:
  struct Window {
    TimePoint start{};
    uint32_t logged = 0;
    uint64_t suppressed = 0;
  };
  uint32_t burst_;
  std::chrono::milliseconds interval_;
  std::map<std::string, Window, std::less<>> windows_;
};

class FailureLog {
 public:
  FailureLog(EventLoop& loop, uint32_t burst, std::chrono::milliseconds interval);

  // Logs `line` (a LogEvent's text) of `event` for (upstream, cause), or counts it.
  void write(std::string_view event, std::string_view upstream, std::string_view cause,
             const std::string& line);
  // Emits the summaries that are due now (also run by the interval timer).
  void flush();
  // A reload changed failure_log_burst or failure_log_interval: from the next interval on.
  void setLimits(uint32_t burst, std::chrono::milliseconds interval);

 private:
  EventLoop& loop_;
  std::chrono::milliseconds interval_;
  FailureLogLimiter limiter_;
  Timer timer_;
};

}  // namespace triaged::observe
