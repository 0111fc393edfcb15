#pragma once

// Runs tools/fake_upstream (the scripted origin) as a child process on 127.0.0.1:0 and reads
// back its port. What each request does is chosen by its query string (see the tool's
// main.cc), e.g. "/?status=503&delay_headers=200" or "/?action=reset_mid_body&size=1000".

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "harness/process.h"

namespace triaged::test {

struct UpstreamStats {
  uint64_t connections = 0;  // TCP connections accepted (the harness's own /__stats excluded)
  uint64_t requests = 0;     // requests received (/__stats excluded)
  uint64_t open = 0;         // connections open right now (the harness's own excluded)
};

// Conditions for FakeUpstream::waitForStats(); unset fields are not checked.
struct StatsWait {
  std::optional<uint64_t> connections;
  std::optional<uint64_t> requests;
  std::optional<uint64_t> open;
};

class FakeUpstream {
 public:
  // Starts the fake with `extra_args` (e.g. {"--keepalive-timeout", "200"}). Throws
  // std::runtime_error with the fake's output if it is not listening within 5 s.
  explicit FakeUpstream(std::vector<std::string> extra_args = {},
                        std::string listen = "127.0.0.1:0");

  uint16_t port() const { return port_; }
  const std::string& host() const { return host_; }  // "127.0.0.1" or "::1"
  std::string address() const;                       // "127.0.0.1:PORT" or "[::1]:PORT"

  // Current counters, over a separate connection. Throws if the fake does not answer.
  UpstreamStats stats() const;
  // Counters once every set field of `want` holds (event-driven on the fake's side: a
  // long-poll, not a sleep loop), or the counters at the timeout.
  UpstreamStats waitForStats(const StatsWait& want, std::chrono::milliseconds timeout = 5s) const;
  UpstreamStats waitForOpen(uint64_t open, std::chrono::milliseconds timeout = 5s) const;
  UpstreamStats waitForRequests(uint64_t requests, std::chrono::milliseconds timeout = 5s) const;

  // SIGTERM and wait; the exit code (0 expected).
  std::optional<int> stop(std::chrono::milliseconds timeout = 5s);
  Process& process() { return *process_; }

 private:
  UpstreamStats fetch(const std::string& target, std::chrono::milliseconds timeout) const;

  std::unique_ptr<Process> process_;
  std::string host_;
  uint16_t port_ = 0;
};

// A loopback port that was bound and then closed: connecting to it is refused.
uint16_t closedPort();

}  // namespace triaged::test
