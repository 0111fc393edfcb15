// `triaged health --admin HOST:PORT [--ready]` as a container HEALTHCHECK or a Kubernetes exec
// probe runs it: 0 against a live daemon; /readyz fails (1) while the daemon drains, when
// /healthz still passes; 1 with a one-line reason when nothing listens or the listener never
// answers within --timeout; 2 on a usage error. --config FILE takes the address from the file.

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <csignal>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "harness/daemon_process.h"
#include "harness/fake_upstream.h"
#include "harness/http_client.h"
#include "harness/process.h"
#include "harness/test_support.h"

namespace triaged::test {
namespace {

struct Run {
  std::optional<int> exit_code;
  std::string output;  // stdout and stderr, as captured through the harness's pipe
};

Run runHealth(const std::vector<std::string>& args) {
  std::vector<std::string> argv{TRIAGED_BINARY, "health"};
  argv.insert(argv.end(), args.begin(), args.end());
  Finished finished = runToExit("health", std::move(argv));
  return {finished.exit_code, std::move(finished.output)};
}

std::string adminAddress(const DaemonProcess& daemon) {
  return "127.0.0.1:" + std::to_string(daemon.adminPort());
}

// A loopback socket that listens and never accepts: the kernel completes connects from its
// backlog, so a client gets connected and then no byte, ever (a hung daemon, seen from outside).
class SilentListener {
 public:
  SilentListener() {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd_ < 0) throw std::runtime_error("socket failed");
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    if (::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
        ::listen(fd_, 8) != 0 ||
        ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
      ::close(fd_);
      throw std::runtime_error("bind/listen failed");
    }
    port_ = ntohs(addr.sin_port);
  }
  ~SilentListener() { ::close(fd_); }
  SilentListener(const SilentListener&) = delete;
  SilentListener& operator=(const SilentListener&) = delete;
  uint16_t port() const { return port_; }

 private:
  int fd_ = -1;
  uint16_t port_ = 0;
};

}  // namespace

TEST_CASE("health against a serving daemon exits 0 for /healthz and /readyz",
          "[integration][health_cli]") {
  FakeUpstream fake;
  DaemonProcess daemon(basicConfig(fake.address()));

  Run alive = runHealth({"--admin", adminAddress(daemon)});
  INFO(alive.output);
  CHECK(alive.exit_code == 0);
  CHECK(
      contains(alive.output, "triaged health: " + adminAddress(daemon) + "/healthz answered 200"));

  Run ready = runHealth({"--admin=" + adminAddress(daemon), "--ready", "--timeout", "3s"});
  INFO(ready.output);
  CHECK(ready.exit_code == 0);
  CHECK(contains(ready.output, "/readyz answered 200"));
  CHECK(daemon.stop() == 0);
}

TEST_CASE("health --ready fails while the daemon drains, and /healthz still passes",
          "[integration][health_cli]") {
  FakeUpstream fake;
  DaemonProcess daemon(basicConfig(fake.address(), "", "drain_timeout = \"10s\""));
  // A request in flight keeps the daemon draining until its slow response is answered.
  HttpClient client(daemon.port());
  REQUIRE(client.send("GET /?delay_headers=3000 HTTP/1.1\r\nHost: x\r\n\r\n"));
  fake.waitForRequests(1, 5s);
  REQUIRE(daemon.process().signal(SIGTERM));
  REQUIRE(daemon.waitForLog("\"event\":\"draining\"", 5s));

  Run ready = runHealth({"--admin", adminAddress(daemon), "--ready"});
  INFO(ready.output);
  CHECK(ready.exit_code == 1);
  CHECK(contains(ready.output, "triaged health: " + adminAddress(daemon) +
                                   "/readyz answered 503 Service Unavailable: draining"));

  Run alive = runHealth({"--admin", adminAddress(daemon)});
  INFO(alive.output);
  CHECK(alive.exit_code == 0);

  CHECK(client.readResponse(withTimeout(10s)).status == 200);
  CHECK(daemon.stop() == 0);
}

TEST_CASE("health --config probes the admin listener the file names, wildcard on loopback",
          "[integration][health_cli]") {
  FakeUpstream fake;
  DaemonProcess daemon(basicConfig(fake.address()));
  TempDir dir;
  // What a container's configuration says: every interface, a fixed port (here the one the
  // daemon under test got).
  const std::string config =
      dir.write("triaged.toml", "[server]\nlisten = \"0.0.0.0:8080\"\nadmin_listen = \"0.0.0.0:" +
                                    std::to_string(daemon.adminPort()) +
                                    "\"\n\n[[upstream]]\nname = \"app\"\nendpoints = [\"" +
                                    fake.address() + "\"]\n");
  Run run = runHealth({"--config", config, "--ready"});
  INFO(run.output);
  CHECK(run.exit_code == 0);
  CHECK(contains(run.output, adminAddress(daemon) + "/readyz answered 200"));
  CHECK(daemon.stop() == 0);
}

TEST_CASE("health --config without a usable admin address exits 1 and says why",
          "[integration][health_cli]") {
  TempDir dir;
  const std::string upstream = "\n[[upstream]]\nname = \"app\"\nendpoints = [\"127.0.0.1:8081\"]\n";
  struct Case {
    std::string server_keys;
    std::string says;
  };
  const std::vector<Case> cases = {
      {"admin_listen = \"\"\n", "turns the admin listener off"},
      {"admin_listen = \"127.0.0.1:0\"\n", "server.admin_listen has port 0"},
      {"admin_listen = \"127.0.0.1:9901\"\nbogus = 1\n",
       "triaged.toml:4: server.bogus: unknown key"},
  };
  for (const Case& c : cases) {
    const std::string config = dir.write(
        "triaged.toml", "[server]\nlisten = \"127.0.0.1:8080\"\n" + c.server_keys + upstream);
    Run run = runHealth({"--config", config});
    INFO(run.output);
    CHECK(run.exit_code == 1);
    CHECK(contains(run.output, "triaged health: "));
    CHECK(contains(run.output, c.says));
  }
  Run missing = runHealth({"--config", dir.path() + "/nope.toml"});
  INFO(missing.output);
  CHECK(missing.exit_code == 1);
  CHECK(contains(missing.output, "nope.toml"));
}

TEST_CASE("health with nothing listening exits 1 and says why", "[integration][health_cli]") {
  const std::string address = "127.0.0.1:" + std::to_string(closedPort());
  Run run = runHealth({"--admin", address});
  INFO(run.output);
  CHECK(run.exit_code == 1);
  CHECK(contains(run.output, "triaged health: cannot reach admin listener " + address +
                                 ": Connection refused"));
}

TEST_CASE("health gives up on a listener that never answers after --timeout",
          "[integration][health_cli]") {
  SilentListener silent;
  const std::string address = "127.0.0.1:" + std::to_string(silent.port());
  Run run = runHealth({"--admin", address, "--timeout=300ms"});
  INFO(run.output);
  CHECK(run.exit_code == 1);
  CHECK(contains(run.output, "triaged health: admin listener " + address +
                                 ": no complete response within 300 ms"));
}

TEST_CASE("health usage errors exit 2", "[integration][health_cli]") {
  struct Case {
    std::vector<std::string> args;
    std::string says;
  };
  const std::vector<Case> cases = {
      {{}, "--admin HOST:PORT or --config FILE is required"},
      {{"--admin", "127.0.0.1:9901", "--config", "x.toml"}, "--admin and --config exclude"},
      {{"--config"}, "--config needs a file"},
      {{"--admin"}, "--admin needs HOST:PORT"},
      {{"--admin", "127.0.0.1"}, "--admin wants HOST:PORT"},
      {{"--admin", "http://127.0.0.1:9901/admin"}, "--admin wants HOST:PORT"},
      {{"--admin", "127.0.0.1:9901", "--timeout", "0s"}, "--timeout wants a positive duration"},
      {{"--admin", "127.0.0.1:9901", "--timeout=soon"}, "--timeout wants a positive duration"},
      {{"--admin", "127.0.0.1:9901", "--timeout"}, "--timeout needs a duration"},
      {{"--admin", "127.0.0.1:9901", "--live"}, "unknown argument: --live"},
  };
  for (const Case& c : cases) {
    Run run = runHealth(c.args);
    INFO(run.output);
    CHECK(run.exit_code == 2);
    CHECK(contains(run.output, "triaged health: " + c.says));
    CHECK(contains(run.output, "usage: triaged health"));
  }
  Run help = runHealth({"--help"});
  CHECK(help.exit_code == 0);
  CHECK(contains(help.output, "usage: triaged health"));
}

}  // namespace triaged::test
