// The conformance corpus (tests/conformance/README.md) through the real binary: every request
// and response vector is sent through triaged in front of triaged_recording_upstream, which
// reads what it gets with its own strict parser and records every byte. Each vector must get
// its verdict, and whatever the verdict: nothing the upstream could read two ways reaches it, a
// follow-up request on the client's connection gets its own response (or the connection is
// closed), and an upstream connection that sent a bad response is not used again.

#include <catch2/catch.hpp>
#include <string>
#include <vector>

#include "harness/daemon_process.h"
#include "harness/process.h"
#include "harness/test_support.h"
#include "runner.h"
#include "vector.h"

namespace triaged::test {
namespace {

const std::string kCorpus = std::string(TRIAGED_SOURCE_DIR) + "/tests/conformance";

// triaged_recording_upstream as a child process; its data and control addresses.
class RecordingUpstream {
 public:
  RecordingUpstream()
      : process_("recording_upstream",
                 {TRIAGED_RECORDING_UPSTREAM_BINARY, "--listen", "127.0.0.1:0"}) {
    const auto line = process_.waitForLine("LISTENING ", 5s);
    if (!line) throw std::runtime_error("recording upstream did not start: " + process_.output());
    // "LISTENING 127.0.0.1:P CONTROL 127.0.0.1:C"
    const std::string data = line->substr(10, line->find(' ', 10) - 10);
    const std::string control = line->substr(line->rfind(' ') + 1);
    data_.port = static_cast<uint16_t>(std::stoi(data.substr(data.rfind(':') + 1)));
    control_.port = static_cast<uint16_t>(std::stoi(control.substr(control.rfind(':') + 1)));
  }
  std::string address() const { return "127.0.0.1:" + std::to_string(data_.port); }
  const conformance::Address& control() const { return control_; }

 private:
  Process process_;
  conformance::Address data_;
  conformance::Address control_;
};

struct Corpus {
  // One worker, so a pooled upstream connection is the one the next request would take; no
  // retry, so a response vector's one scripted answer is the only one.
  Corpus() : daemon(basicConfig(upstream.address(), "retries = 0", "workers = 1")) {
    proxy.port = daemon.port();
  }
  RecordingUpstream upstream;
  DaemonProcess daemon;
  conformance::Address proxy;
};

// Runs every vector of `dir` through a fresh daemon; at least `at_least` must hold their verdict,
// and the daemon must still answer and stop cleanly after all of them.
void runAll(const std::string& dir, bool responses, size_t at_least) {
  Corpus c;
  size_t passed = 0;
  for (const conformance::Vector& v : conformance::loadVectors(kCorpus + "/" + dir)) {
    const conformance::Outcome o =
        responses ? conformance::runResponseVector(c.proxy, c.upstream.control(), v)
                  : conformance::runRequestVector(c.proxy, c.upstream.control(), v);
    const std::vector<std::string> problems = conformance::checkVerdict(v, o, responses);
    std::string report;
    for (const auto& p : problems) report += "\n  - " + p;
    INFO(dir << "/" << v.name << ".vec: " << v.title << "\n  got: " << conformance::describe(o)
             << report);
    const std::string known = v.key("known-failure");
    if (!known.empty()) {
      // Held to fail until its cause is fixed, so that the marker is removed then.
      WARN(dir << "/" << v.name << " is a known failure: " << known);
      CHECK_FALSE(problems.empty());
      continue;
    }
    CHECK(problems.empty());
    if (problems.empty()) ++passed;
  }
  CHECK(passed >= at_least);
  CHECK(c.daemon.admin("/healthz").status == 200);
  CHECK(c.daemon.stop() == 0);
}

}  // namespace

TEST_CASE("every request vector of the conformance corpus gets its verdict",
          "[integration][conformance]") {
  runAll("requests", false, 80);
}

TEST_CASE("every response vector of the conformance corpus gets its verdict",
          "[integration][conformance]") {
  runAll("responses", true, 30);
}

}  // namespace triaged::test
