#pragma once

// A real Prometheus server (Debian's package `prometheus`, which scripts/setup.sh installs) for
// the tests that need one: its own free loopback port and temporary data directory, a generated
// configuration with a 1 s scrape and evaluation interval, and only the targets the test gives
// it, so a system service the package may have started is never touched. Stopped with SIGTERM
// by stop(); the Process guard SIGKILLs it if a test fails first.

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "harness/daemon_process.h"
#include "harness/http_client.h"
#include "harness/process.h"

namespace triaged::test {

// A scrape target on 127.0.0.1 and the target labels Prometheus adds to its series (e.g.
// {"node", "node-a"}, as a Kubernetes relabeling would).
struct ScrapeTarget {
  uint16_t port = 0;
  std::map<std::string, std::string> labels;
};

class PrometheusServer {
 public:
  static constexpr const char* kBinary = "/usr/bin/prometheus";
  static bool installed();

  // Scrapes each target (job "triaged") every second and evaluates the rules of `rule_files`
  // (absolute paths) every second. Throws std::runtime_error, with Prometheus's output, when it
  // is not ready within 15 s.
  explicit PrometheusServer(const std::vector<ScrapeTarget>& targets,
                            const std::vector<std::string>& rule_files = {});

  uint16_t port() const { return port_; }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  Process& process() { return *process_; }

  // GET `target` on its HTTP API over a fresh connection; nullopt when nothing answers.
  std::optional<Response> get(const std::string& target) const;
  // The JSON answer of an instant query of `promql`; nullopt when it did not answer 200.
  std::optional<std::string> query(const std::string& promql) const;

  // Calls `done` every 100 ms until it holds or `timeout` passes; true when it held. The pause
  // doubles as a watch on Prometheus: its exit stops the wait early.
  bool pollUntil(const std::function<bool()>& done, std::chrono::milliseconds timeout);

  // SIGTERM, then the exit code (0 expected).
  std::optional<int> stop();

 private:
  bool start();

  TempDir dir_;
  std::string config_path_;
  uint16_t port_ = 0;
  std::unique_ptr<Process> process_;
};

// A loopback port that was free a moment ago: bound to port 0, read back, closed.
uint16_t freePort();

}  // namespace triaged::test
