// /metrics as real Prometheus tooling sees it: `promtool check metrics` finds no problem in a
// live scrape (after successes and failures), and a real Prometheus server scraping the admin
// listener can query triaged_failures_total for a refused request. Both need the Debian
// package `prometheus` (scripts/setup.sh installs it) and skip, saying so, only when its binary
// is missing. Prometheus runs on its own free port with its own data directory, so a system
// service the package may have started is never touched.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <csignal>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "harness/daemon_process.h"
#include "harness/fake_upstream.h"
#include "harness/http_client.h"
#include "harness/process.h"
#include "harness/test_support.h"

namespace triaged::test {
namespace {

constexpr const char* kPromtool = "/usr/bin/promtool";
constexpr const char* kPrometheus = "/usr/bin/prometheus";

bool executable(const char* path) { return ::access(path, X_OK) == 0; }

// A loopback port that was free a moment ago: bound to port 0, read back, closed.
uint16_t freePort() {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) throw std::runtime_error("socket failed");
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    ::close(fd);
    throw std::runtime_error("bind failed");
  }
  ::close(fd);
  return ntohs(addr.sin_port);
}

// GET `target` on 127.0.0.1:port over a fresh connection; nullopt when nothing answers.
std::optional<Response> tryGet(uint16_t port, const std::string& target) {
  try {
    HttpClient client(port, "127.0.0.1", 1s);
    Response r = client.get(target, {}, ReadOptions{.timeout = 2s});
    if (r.status == 0) return std::nullopt;
    return r;
  } catch (const std::runtime_error&) {
    return std::nullopt;
  }
}

// Calls `done` every 100 ms until it holds or `timeout` passes; true when it held. The pause
// doubles as a watch on `process`: its output ending (it died) stops the wait early.
bool pollUntil(Process& process, const std::function<bool()>& done,
               std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    if (done()) return true;
    if (std::chrono::steady_clock::now() >= deadline || !process.running()) return false;
    std::this_thread::sleep_for(100ms);
  }
}

// A Prometheus server on its own port and data directory, scraping `admin_port` every second.
// Stopped with SIGTERM by stop(); the Process guard SIGKILLs it if a test fails first.
class PrometheusServer {
 public:
  explicit PrometheusServer(uint16_t admin_port) {
    config_path_ = dir_.write("prometheus.yml",
                              "global:\n"
                              "  scrape_interval: 1s\n"
                              "  evaluation_interval: 1s\n"
                              "scrape_configs:\n"
                              "  - job_name: triaged\n"
                              "    static_configs:\n"
                              "      - targets: [\"127.0.0.1:" +
                                  std::to_string(admin_port) + "\"]\n");
    // The port is free when picked but may be taken before Prometheus binds it: one retry.
    for (int attempt = 0; attempt < 2; ++attempt) {
      if (start()) return;
      if (!contains(process_->output(), "address already in use")) break;
    }
    throw std::runtime_error("prometheus did not become ready within 15 s:\n" + process_->output());
  }

  uint16_t port() const { return port_; }
  Process& process() { return *process_; }

  std::optional<int> stop() {
    process_->signal(SIGTERM);
    return process_->waitExit(10s);
  }

 private:
  bool start() {
    port_ = freePort();
    process_.reset();  // a failed attempt is reaped before the next starts
    process_ = std::make_unique<Process>(
        "prometheus",
        std::vector<std::string>{kPrometheus, "--config.file=" + config_path_,
                                 "--storage.tsdb.path=" + dir_.path() + "/data",
                                 "--web.listen-address=127.0.0.1:" + std::to_string(port_),
                                 "--log.level=warn"});
    return pollUntil(
        *process_,
        [this] {
          auto r = tryGet(port_, "/-/ready");
          return r && r->status == 200;
        },
        15s);
  }

  TempDir dir_;
  std::string config_path_;
  uint16_t port_ = 0;
  std::unique_ptr<Process> process_;
};

}  // namespace

TEST_CASE("promtool check metrics finds no problem in a live scrape", "[integration][prometheus]") {
  if (!executable(kPromtool)) {
    WARN("promtool not installed; scripts/setup.sh installs it (Debian package prometheus)");
    SUCCEED("skipped: " << kPromtool << " is missing");
    return;
  }
  FakeUpstream fake;
  DaemonProcess daemon(configWithRefusedUpstream(fake.address()));
  HttpClient client(daemon.port());
  CHECK(client.get("/?status=200").status == 200);
  CHECK(client.get("/?status=500").status == 500);
  CHECK(client.get("/?status=503").status == 503);
  CHECK(client.get("/?status=502").status == 502);
  HttpClient refused(daemon.port());
  CHECK(refused.get("/gone/x").status == 502);
  daemon.waitForLog("connect_refused");

  const Response scrape = daemon.admin("/metrics");
  REQUIRE(scrape.status == 200);
  REQUIRE(contains(scrape.body, "triaged_failures_total{"));

  TempDir dir;
  const std::string path = dir.write("scrape.prom", scrape.body);
  // promtool reads the exposition from stdin; the shell connects the file to it.
  Process promtool(
      "promtool",
      {"/bin/sh", "-c", std::string("exec ") + kPromtool + " check metrics < \"$1\"", "sh", path});
  const std::optional<int> exit_code = promtool.waitExit(15s);
  promtool.waitForLine([](const std::string&) { return false; }, 5s);  // output complete
  const std::vector<std::string> problems = promtool.lines();
  INFO("promtool reported:\n" << promtool.output() << "\nscrape was:\n" << scrape.body);
  CHECK(exit_code == 0);
  CHECK(problems.empty());
}

TEST_CASE("a real Prometheus server scrapes a refused request's failure counter",
          "[integration][prometheus]") {
  if (!executable(kPrometheus)) {
    WARN("prometheus not installed; scripts/setup.sh installs it (Debian package prometheus)");
    SUCCEED("skipped: " << kPrometheus << " is missing");
    return;
  }
  FakeUpstream fake;
  DaemonProcess daemon(configWithRefusedUpstream(fake.address()));
  HttpClient client(daemon.port());
  REQUIRE(client.get("/gone/x").status == 502);

  PrometheusServer prometheus(daemon.adminPort());
  const std::string query =
      "/api/v1/query?query=triaged_failures_total%7Bcause%3D%22connect_refused%22%7D";
  std::string last_answer;
  const bool seen = pollUntil(
      prometheus.process(),
      [&] {
        auto r = tryGet(prometheus.port(), query);
        if (!r) return false;
        last_answer = std::to_string(r->status) + " " + r->body;
        // A sample is [timestamp, "value"]; one refused request is the value "1".
        return r->status == 200 && contains(r->body, "\"upstream\":\"gone\"") &&
               contains(r->body, ",\"1\"]");
      },
      30s);
  if (!seen) {
    auto targets = tryGet(prometheus.port(), "/api/v1/targets");
    INFO("scrape targets: " << (targets ? targets->body : std::string("(no answer)")));
    INFO("prometheus output:\n" << prometheus.process().output());
    INFO("last query answer: " << last_answer);
    CHECK(seen);
  }
  CHECK(prometheus.stop() == 0);
}

}  // namespace triaged::test
