// The command line as scripts use it: --version, --check-config with its exit code and its
// "FILE:LINE: KEY: reason" lines, a daemon refusing to start on a bad config, and the usage
// message for an unknown argument.

#include <catch2/catch.hpp>
#include <optional>
#include <string>
#include <vector>

#include "harness/daemon_process.h"
#include "harness/process.h"
#include "harness/test_support.h"

namespace triaged::test {
namespace {

using Run = Finished;

// Runs triaged with `args` to completion (at most 10 s) and collects everything it printed.
Run runTriaged(const std::vector<std::string>& args) {
  std::vector<std::string> argv{TRIAGED_BINARY};
  argv.insert(argv.end(), args.begin(), args.end());
  return runToExit("triaged", std::move(argv), {}, 10s);
}

bool startsWith(const std::string& s, const std::string& prefix) {
  return s.compare(0, prefix.size(), prefix) == 0;
}

const char* const kGoodConfig =
    "[server]\n"
    "listen = \"127.0.0.1:0\"\n"
    "admin_listen = \"127.0.0.1:0\"\n"
    "\n"
    "[[upstream]]\n"
    "name = \"app\"\n"
    "endpoints = [\"127.0.0.1:8081\"]\n"
    "\n"
    "[[route]]\n"
    "prefix = \"/\"\n"
    "upstream = \"app\"\n";

// An unknown key on line 5 and a duration without a unit on line 7; nothing else is wrong.
const char* const kBadConfig =
    "[server]\n"                         // 1
    "listen = \"127.0.0.1:0\"\n"         // 2
    "admin_listen = \"127.0.0.1:0\"\n"   // 3
    "workers = 1\n"                      // 4
    "bogus = 1\n"                        // 5
    "client_header_timeout = \"10s\"\n"  // 6
    "drain_timeout = \"ten seconds\"\n"  // 7
    "\n"
    "[[upstream]]\n"
    "name = \"app\"\n"
    "endpoints = [\"127.0.0.1:8081\"]\n"
    "\n"
    "[[route]]\n"
    "prefix = \"/\"\n"
    "upstream = \"app\"\n";

}  // namespace

TEST_CASE("--version prints the version and exits 0", "[integration][cli]") {
  Run run = runTriaged({"--version"});
  INFO(run.output);
  CHECK(run.exit_code == 0);
  REQUIRE(run.lines.size() == 1);
  CHECK(startsWith(run.lines.front(), "triaged "));
  CHECK(run.lines.front().size() > std::string("triaged ").size());
}

TEST_CASE("--check-config on a valid file prints config OK and exits 0", "[integration][cli]") {
  TempDir dir;
  const std::string path = dir.write("good.toml", kGoodConfig);
  Run run = runTriaged({"--check-config", "--config", path});
  INFO(run.output);
  CHECK(run.exit_code == 0);
  CHECK(run.lines == std::vector<std::string>{"config OK"});
}

TEST_CASE("--check-config on a bad file prints FILE:LINE: KEY: reason per problem and fails",
          "[integration][cli]") {
  TempDir dir;
  const std::string path = dir.write("bad.toml", kBadConfig);
  Run run = runTriaged({"--check-config", "--config", path});
  INFO(run.output);
  REQUIRE(run.exit_code.has_value());
  CHECK(*run.exit_code != 0);
  CHECK(run.lines.size() == 2);  // one line per problem, nothing else
  int unknown_key = 0;
  int bad_duration = 0;
  for (const auto& line : run.lines) {
    const std::string unknown_prefix = path + ":5: server.bogus: ";
    const std::string duration_prefix = path + ":7: server.drain_timeout: ";
    if (startsWith(line, unknown_prefix) && line.size() > unknown_prefix.size()) ++unknown_key;
    if (startsWith(line, duration_prefix) && line.size() > duration_prefix.size()) ++bad_duration;
  }
  CHECK(unknown_key == 1);
  CHECK(bad_duration == 1);
  CHECK_FALSE(contains(run.output, "config OK"));
}

TEST_CASE("the daemon refuses to start on a bad config and never listens", "[integration][cli]") {
  TempDir dir;
  const std::string path = dir.write("bad.toml", kBadConfig);
  Run run = runTriaged({"--config", path});
  INFO(run.output);
  REQUIRE(run.exit_code.has_value());
  CHECK(*run.exit_code != 0);
  CHECK_FALSE(contains(run.output, "\"event\":\"listening\""));
  CHECK(contains(run.output, path + ":5: server.bogus: "));
  CHECK(contains(run.output, path + ":7: server.drain_timeout: "));
}

TEST_CASE("an unknown argument exits 2 with the usage", "[integration][cli]") {
  Run run = runTriaged({"--frobnicate"});
  INFO(run.output);
  CHECK(run.exit_code == 2);
  CHECK(contains(run.output, "--frobnicate"));
  CHECK(contains(run.output, "usage:"));
  CHECK(contains(run.output, "--check-config"));
}

}  // namespace triaged::test
