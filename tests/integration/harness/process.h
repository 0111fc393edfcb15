#pragma once

// A child process started by a test: fork/exec with arguments and environment, stdout and
// stderr captured line by line by a reader thread. The destructor is the RAII guard: a child
// still running is SIGKILLed and reaped, so a failing test never leaks a process.

#include <sys/types.h>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace triaged::test {

using namespace std::chrono_literals;

class Process {
 public:
  // Starts `argv[0]` (a path, not searched in PATH) with `argv` and the test's environment
  // plus `extra_env` (overriding). `name` prefixes echoed output (TRIAGED_TEST_VERBOSE=1).
  // Throws std::runtime_error when the program cannot be started.
  Process(std::string name, std::vector<std::string> argv,
          std::map<std::string, std::string> extra_env = {});
  ~Process();
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;

  pid_t pid() const { return pid_; }
  const std::string& name() const { return name_; }

  // First captured line (from the start of the output) that satisfies `pred`; nullopt when the
  // timeout passes or the output ends (process gone) without one.
  std::optional<std::string> waitForLine(const std::function<bool(const std::string&)>& pred,
                                         std::chrono::milliseconds timeout);
  std::optional<std::string> waitForLine(std::string_view substring,
                                         std::chrono::milliseconds timeout);
  // Blocks until more than `count` lines were captured, the output ends or the timeout passes.
  // Returns the number of lines captured.
  size_t waitForLineCount(size_t count, std::chrono::milliseconds timeout);

  std::vector<std::string> lines() const;
  std::vector<std::string> linesContaining(std::string_view substring) const;
  // All output so far, one line per line, for failure messages.
  std::string output() const;

  // Sends `sig`; false when the process was already reaped.
  bool signal(int sig);
  // Exit code, or 128 + signal number when killed by a signal; nullopt on timeout.
  std::optional<int> waitExit(std::chrono::milliseconds timeout);
  bool running();
  // VmRSS from /proc/PID/status in KiB; 0 when unavailable.
  uint64_t rssKb() const;
  // VmHWM (peak resident set since start) in KiB; 0 when unavailable.
  uint64_t peakRssKb() const;
  // Resets VmHWM to the current VmRSS (writes 5 to /proc/PID/clear_refs). False if refused.
  bool resetPeakRss() const;

 private:
  void readerLoop();
  uint64_t statusFieldKb(std::string_view field) const;
  bool tryReap(bool block);

  std::string name_;
  pid_t pid_ = -1;
  int pidfd_ = -1;
  int out_fd_ = -1;            // read end of the child's stdout+stderr pipe
  int stop_fd_[2] = {-1, -1};  // wakes the reader thread at destruction
  bool verbose_ = false;
  std::optional<int> exit_code_;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::string> lines_;
  bool output_ended_ = false;
  std::thread reader_;
};

// How a program that ran to its end ended, and everything it printed.
struct Finished {
  std::optional<int> exit_code;    // nullopt when it still ran at the timeout (then SIGKILLed)
  std::vector<std::string> lines;  // stdout and stderr, as captured
  std::string output;
};

// Runs `argv` as Process does until it exits, at most `timeout`, and collects its output.
Finished runToExit(std::string name, std::vector<std::string> argv,
                   std::map<std::string, std::string> extra_env = {},
                   std::chrono::milliseconds timeout = 15s);

}  // namespace triaged::test
