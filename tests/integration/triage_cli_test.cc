// `triaged triage --admin HOST:PORT` as an operator runs it against a live daemon: the text
// report names the cause and the upstream, carries no colour when stdout is not a terminal,
// --json gives JSON, an unreachable listener is exit 1 with a one-line reason, and usage
// errors are exit 2. The colour rules themselves are checked on a pseudo-terminal through
// util-linux `script` when it is installed.

#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <map>
#include <optional>
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

using Run = Finished;

Run runProgram(std::vector<std::string> argv, std::map<std::string, std::string> env = {}) {
  return runToExit("triage", std::move(argv), std::move(env));
}

Run runTriage(const std::vector<std::string>& args, std::map<std::string, std::string> env = {}) {
  std::vector<std::string> argv{TRIAGED_BINARY, "triage"};
  argv.insert(argv.end(), args.begin(), args.end());
  return runProgram(std::move(argv), std::move(env));
}

std::string adminAddress(const DaemonProcess& daemon) {
  return "127.0.0.1:" + std::to_string(daemon.adminPort());
}

// Sends `n` requests to the refused upstream (the first at least is connect_refused) and waits (at
// most 5 s) until the daemon's own /debug/triage lists them, so a CLI failure below is the CLI's
// and not a race with the report.
void refusedBurst(const DaemonProcess& daemon, int n) {
  for (int i = 0; i < n; ++i) {
    HttpClient client(daemon.port());
    // 502 connect_refused until passive health marks the endpoint down, then 503.
    const int status = client.get("/gone/x" + std::to_string(i)).status;
    REQUIRE((status == 502 || status == 503));
  }
  const auto deadline = std::chrono::steady_clock::now() + 5s;
  Response r;
  for (;;) {
    r = daemon.admin("/debug/triage?format=text");
    if (r.status == 200 && contains(r.body, "connect_refused")) return;
    if (std::chrono::steady_clock::now() >= deadline) break;
    std::this_thread::sleep_for(50ms);
  }
  INFO("GET /debug/triage?format=text answered " << r.status << ":\n" << r.body);
  FAIL("the daemon's triage report never listed connect_refused");
}

}  // namespace

TEST_CASE("triage prints the text report naming the cause and the upstream, without colour",
          "[integration][triage_cli]") {
  FakeUpstream fake;
  DaemonProcess daemon(configWithRefusedUpstream(fake.address()));
  refusedBurst(daemon, 5);

  Run run = runTriage({"--admin", adminAddress(daemon)});
  INFO(run.output);
  CHECK(run.exit_code == 0);
  CHECK(contains(run.output, "connect_refused"));
  CHECK(contains(run.output, "gone"));
  CHECK_FALSE(contains(run.output, "\x1b"));  // stdout is a pipe: no ANSI escapes
}

TEST_CASE("triage --json prints the JSON report", "[integration][triage_cli]") {
  FakeUpstream fake;
  DaemonProcess daemon(configWithRefusedUpstream(fake.address()));
  refusedBurst(daemon, 3);

  Run run = runTriage({"--admin=" + adminAddress(daemon), "--json"});
  INFO(run.output);
  CHECK(run.exit_code == 0);
  CHECK(run.output.rfind('{', 0) == 0);
  CHECK(contains(run.output, "\"connect_refused\""));
  CHECK(contains(run.output, "\"gone\""));
  CHECK_FALSE(contains(run.output, "\x1b"));
}

TEST_CASE("triage colours the report on a terminal unless NO_COLOR is set",
          "[integration][triage_cli]") {
  constexpr const char* kScript = "/usr/bin/script";
  if (::access(kScript, X_OK) != 0) {
    WARN("util-linux script not installed: the terminal colour check is skipped");
    SUCCEED("skipped: " << kScript << " is missing");
    return;
  }
  FakeUpstream fake;
  DaemonProcess daemon(configWithRefusedUpstream(fake.address()));
  refusedBurst(daemon, 2);
  // script(1) runs the command (one shell string) with a pseudo-terminal as its stdout.
  const std::string command =
      std::string(TRIAGED_BINARY) + " triage --admin " + adminAddress(daemon);
  const std::vector<std::string> argv{kScript, "-qec", command, "/dev/null"};

  Run coloured = runProgram(argv, {{"TERM", "xterm"}});
  INFO(coloured.output);
  CHECK(coloured.exit_code == 0);
  CHECK(contains(coloured.output, "\x1b[1m"));   // headings bold
  CHECK(contains(coloured.output, "\x1b[31m"));  // the connect_refused row (502) red
  CHECK(contains(coloured.output, "connect_refused"));

  Run plain = runProgram(argv, {{"TERM", "xterm"}, {"NO_COLOR", "1"}});
  INFO(plain.output);
  CHECK(plain.exit_code == 0);
  CHECK(contains(plain.output, "connect_refused"));
  CHECK_FALSE(contains(plain.output, "\x1b["));
}

TEST_CASE("triage against an unreachable admin listener exits 1 and says why",
          "[integration][triage_cli]") {
  const std::string address = "127.0.0.1:" + std::to_string(closedPort());
  Run run = runTriage({"--admin", address});
  INFO(run.output);
  CHECK(run.exit_code == 1);
  CHECK(contains(run.output, "triaged triage: cannot reach admin listener " + address +
                                 ": Connection refused"));
}

TEST_CASE("triage usage errors exit 2", "[integration][triage_cli]") {
  SECTION("missing --admin") {
    Run run = runTriage({});
    INFO(run.output);
    CHECK(run.exit_code == 2);
    CHECK(contains(run.output, "--admin"));
  }
  SECTION("--admin without a value") {
    Run run = runTriage({"--admin"});
    INFO(run.output);
    CHECK(run.exit_code == 2);
  }
  SECTION("--admin without a port") {
    Run run = runTriage({"--admin", "127.0.0.1"});
    INFO(run.output);
    CHECK(run.exit_code == 2);
  }
  SECTION("an unknown argument") {
    Run run = runTriage({"--admin", "127.0.0.1:9", "--frobnicate"});
    INFO(run.output);
    CHECK(run.exit_code == 2);
    CHECK(contains(run.output, "--frobnicate"));
  }
}

}  // namespace triaged::test
