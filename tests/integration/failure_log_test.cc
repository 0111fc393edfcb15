// The failure log as an operator reads it under pressure: rate-limited per (upstream, cause) but
// never silent (a summary line counts what was held back), and a refusing endpoint that accepts
// again reported as a probable restart.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "harness/daemon_process.h"
#include "harness/fake_upstream.h"
#include "harness/http_client.h"
#include "harness/test_support.h"

namespace triaged::test {
namespace {

using Clock = std::chrono::steady_clock;

// A loopback port that is bound but never listens: every connect is answered RST
// (ECONNREFUSED), and no other process can take the port while this object lives.
class RefusingPort {
 public:
  RefusingPort() {
    fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd_ < 0) throw std::runtime_error("socket failed");
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    if (bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
        getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
      ::close(fd_);
      throw std::runtime_error("bind failed");
    }
    port_ = ntohs(addr.sin_port);
  }
  ~RefusingPort() { ::close(fd_); }
  RefusingPort(const RefusingPort&) = delete;
  RefusingPort& operator=(const RefusingPort&) = delete;
  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }

 private:
  int fd_ = -1;
  uint16_t port_ = 0;
};

bool isEvent(const std::string& line, const std::string& event) {
  return jsonField(line, "event") == event;
}

size_t countEvents(const DaemonProcess& daemon, const std::string& event) {
  size_t n = 0;
  for (const auto& l : daemon.logLines()) {
    if (isEvent(l, event)) ++n;
  }
  return n;
}

}  // namespace

TEST_CASE("a burst of refusals logs failure_log_burst lines in full and one suppressed count",
          "[integration][failure_log]") {
  // Three refusing endpoints, so that six refusals (two each, round robin) mark none of them
  // down: every request really fails with connect_refused.
  std::vector<std::unique_ptr<RefusingPort>> ports;
  std::string endpoints;
  for (int i = 0; i < 3; ++i) {
    ports.push_back(std::make_unique<RefusingPort>());
    endpoints += (i > 0 ? "\", \"" : "") + ports.back()->address();
  }
  std::string config = basicConfig(ports.front()->address(), "retries = 0") +
                       "\n[log]\nfailure_log_burst = 2\nfailure_log_interval = \"500ms\"\n";
  const std::string one = "endpoints = [\"" + ports.front()->address() + "\"]";
  config.replace(config.find(one), one.size(), "endpoints = [\"" + endpoints + "\"]");
  DaemonProcess daemon(config);

  const auto start = Clock::now();
  for (int i = 0; i < 6; ++i) {
    HttpClient client(daemon.port());
    Response r = client.get("/");
    INFO("request " << i + 1);
    REQUIRE(r.status == 502);
    REQUIRE(r.header("X-Triaged-Cause") == "connect_refused");
  }
  auto summary = daemon.waitForLog(
      [](const std::string& l) { return isEvent(l, "upstream_failure_suppressed"); }, 3s);
  const auto waited = Clock::now() - start;
  INFO("daemon output:\n" << daemon.process().output());
  REQUIRE(summary.has_value());
  CHECK(waited < 2500ms);
  CHECK(jsonField(*summary, "suppressed") == "4");
  CHECK(jsonField(*summary, "upstream") == "app");
  CHECK(jsonField(*summary, "cause") == "connect_refused");

  const auto lines = daemon.logLines();
  size_t full = 0;
  for (const auto& l : lines) {
    if (!isEvent(l, "upstream_failure")) continue;
    ++full;
    CHECK(jsonField(l, "cause") == "connect_refused");
    CHECK_FALSE(jsonField(l, "hint").value_or("").empty());
  }
  CHECK(full == 2);
  CHECK(countEvents(daemon, "upstream_failure_suppressed") == 1);
  CHECK(countEvents(daemon, "endpoint_down") == 0);
}

TEST_CASE("an endpoint that refused and then accepts again is reported as a probable restart",
          "[integration][failure_log]") {
  auto first = std::make_unique<FakeUpstream>();
  const std::string endpoint = first->address();
  DaemonProcess daemon(basicConfig(endpoint, "retries = 0"));
  REQUIRE(first->stop() == 0);
  first.reset();
  {
    HttpClient client(daemon.port());
    Response r = client.get("/");
    REQUIRE(r.status == 502);
    REQUIRE(r.header("X-Triaged-Cause") == "connect_refused");
  }
  // The app comes back on the same address.
  FakeUpstream second({}, endpoint);
  REQUIRE(second.address() == endpoint);
  HttpClient client(daemon.port());
  Response r = client.get("/?body=back");
  CHECK(r.status == 200);
  CHECK(r.body == "back");

  auto line =
      daemon.waitForLog([](const std::string& l) { return isEvent(l, "endpoint_recovered"); }, 3s);
  INFO("daemon output:\n" << daemon.process().output());
  REQUIRE(line.has_value());
  CHECK(jsonField(*line, "upstream") == "app");
  CHECK(jsonField(*line, "endpoint") == endpoint);
  CHECK(jsonField(*line, "after_cause") == "connect_refused");
  CHECK(jsonField(*line, "refused_connects") == "1");
  const std::string hint = jsonField(*line, "hint").value_or("");
  INFO("hint: " << hint);
  CHECK(contains(hint, endpoint));
  CHECK(contains(hint, "probably restarted"));
  CHECK(countEvents(daemon, "endpoint_recovered") == 1);
}

}  // namespace triaged::test
