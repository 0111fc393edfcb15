// Every way an upstream or a client can fail, at once, from several clients, against one daemon:
// it answers each with the right status, keeps serving, and afterwards holds exactly the
// descriptors and connections it held before (no leaked client or upstream connection), and
// exits 0 (under ASan: with no leak report).

#include <algorithm>
#include <catch2/catch.hpp>
#include <chrono>
#include <filesystem>
#include <functional>
#include <mutex>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "harness/daemon_process.h"
#include "harness/fake_upstream.h"
#include "harness/http_client.h"
#include "harness/metrics_scrape.h"
#include "harness/proxied.h"

namespace triaged::test {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

// What the client of one scenario saw, in a few words: "200", "200 cut" (a body that ended
// early), "closed" (no response at all), or "-" (the client left before any answer).
using Outcome = std::string;

Outcome outcomeOf(const Response& r) {
  if (r.status == 0) return "closed";
  return std::to_string(r.status) + (r.complete ? "" : " cut");
}

struct Scenario {
  std::string name;
  std::function<Outcome(uint16_t port)> run;
  std::set<Outcome> expected;
};

// One GET of `target` on a fresh connection.
Scenario upstreamDoes(std::string target, std::set<Outcome> expected) {
  return {target,
          [target](uint16_t port) {
            HttpClient c(port);
            return outcomeOf(c.get(target));
          },
          std::move(expected)};
}

// The client sends `raw`, waits `linger`, and leaves with a FIN or (`reset`) an RST.
Scenario clientLeaves(std::string name, std::string raw, std::chrono::milliseconds linger,
                      bool reset) {
  return {std::move(name),
          [raw, linger, reset](uint16_t port) {
            HttpClient c(port);
            c.send(raw);
            std::this_thread::sleep_for(linger);
            if (reset) {
              c.resetConnection();
            } else {
              c.close();
            }
            return Outcome("-");
          },
          {"-"}};
}

std::vector<Scenario> everyFailure() {
  std::vector<Scenario> s = {
      upstreamDoes("/?size=100", {"200"}),
      upstreamDoes("/?action=close_before_headers", {"502"}),
      upstreamDoes("/?action=reset_before_headers", {"502"}),
      upstreamDoes("/?action=partial_headers", {"502"}),
      upstreamDoes("/?action=garbage", {"502"}),
      upstreamDoes("/?action=bad_content_length", {"502"}),
      upstreamDoes("/?action=huge_headers&after=100000", {"502"}),
      upstreamDoes("/?action=hang", {"504"}),
      upstreamDoes("/?action=close_mid_body&size=200000&after=1000", {"200 cut"}),
      upstreamDoes("/?action=reset_mid_body&size=200000&after=1000", {"200 cut"}),
      upstreamDoes("/?action=stall_body&size=200000&after=1000", {"200 cut"}),
      upstreamDoes("/?action=close_after_response&size=10", {"200"}),
      upstreamDoes("/?action=reset_after_response&size=10", {"200"}),
      // The next request on that upstream connection (any client's) meets the stale keep-alive
      // race, which the retry absorbs.
      upstreamDoes("/?action=close_on_next_request&size=10", {"200"}),
      upstreamDoes("/?action=reset_on_next_request&size=10", {"200"}),
      upstreamDoes("/?status=500", {"500"}),
      upstreamDoes("/?status=502", {"502"}),
      upstreamDoes("/?status=503", {"503"}),
      upstreamDoes("/?status=504", {"504"}),
      upstreamDoes("/?chunked=1&size=50000", {"200"}),
  };
  s.push_back({"keep-alive: three requests on one connection",
               [](uint16_t port) {
                 HttpClient c(port);
                 Outcome last;
                 for (int i = 0; i < 3; ++i) last = outcomeOf(c.get("/?size=1000"));
                 return last;
               },
               {"200"}});
  s.push_back(clientLeaves("client closes while the upstream thinks",
                           "GET /?delay_headers=300 HTTP/1.1\r\nHost: app\r\n\r\n", 20ms, false));
  s.push_back({"client resets in the middle of a large body",
               [](uint16_t port) {
                 HttpClient c(port);
                 c.send("GET /?size=4000000 HTTP/1.1\r\nHost: app\r\n\r\n");
                 c.readBytes(20000, 2s);
                 c.resetConnection();
                 return Outcome("-");
               },
               {"-"}});
  s.push_back({"client sends no HTTP",
               [](uint16_t port) {
                 HttpClient c(port);
                 return outcomeOf(c.rawRequest("THIS IS NOT HTTP\r\n\r\n"));
               },
               {"400"}});
  s.push_back(clientLeaves("client stops inside its request head",
                           "GET / HTTP/1.1\r\nHost: app\r\nX-Half: ", 10ms, false));
  s.push_back(clientLeaves("client promises a body and never sends it",
                           "POST /echo HTTP/1.1\r\nHost: app\r\nContent-Length: 100000\r\n\r\nabc",
                           10ms, true));
  return s;
}

size_t openDescriptors(pid_t pid) {
  size_t n = 0;
  std::error_code ec;
  for (std::filesystem::directory_iterator it("/proc/" + std::to_string(pid) + "/fd", ec), end;
       !ec && it != end; it.increment(ec)) {
    ++n;
  }
  return n;
}

// The daemon's descriptor count once it has held the same for 200 ms (at most 2 s): the
// harness's own readiness probes may still be closing when the test starts.
size_t stableDescriptors(pid_t pid) {
  const auto deadline = Clock::now() + 2s;
  size_t n = openDescriptors(pid);
  while (Clock::now() < deadline) {
    std::this_thread::sleep_for(200ms);
    const size_t again = openDescriptors(pid);
    if (again == n) break;
    n = again;
  }
  return n;
}

// The daemon's descriptor count once it has held still for 100 ms (a connection the harness
// just closed may take a loop turn to go), or the last count seen when `timeout` passes.
size_t settledDescriptors(pid_t pid, size_t want, std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  size_t n = openDescriptors(pid);
  while (Clock::now() < deadline) {
    if (n == want) {
      std::this_thread::sleep_for(100ms);
      if (openDescriptors(pid) == want) return want;
    }
    std::this_thread::sleep_for(20ms);
    n = openDescriptors(pid);
  }
  return n;
}

}  // namespace

TEST_CASE("every failure at once from four clients: right statuses, no leaked connection",
          "[integration][resilience]") {
  Proxied p(
      "response_header_timeout = \"300ms\"\n"
      "body_idle_timeout = \"300ms\"\n"
      "keepalive_idle_timeout = \"300ms\"",
      "client_header_timeout = \"500ms\"\n"
      "client_idle_timeout = \"1s\"");
  const pid_t pid = p.daemon.process().pid();
  // Before any data-plane connection: listeners, epoll, eventfds, log output.
  const size_t baseline = stableDescriptors(pid);
  INFO("descriptors at start: " << baseline);

  const std::vector<Scenario> scenarios = everyFailure();
  constexpr int kClients = 4;
  constexpr int kRounds = 2;
  std::mutex mu;
  std::vector<std::string> wrong;  // "scenario: got X"
  size_t ran = 0;
  std::vector<std::thread> clients;
  for (int t = 0; t < kClients; ++t) {
    clients.emplace_back([&, t] {
      std::mt19937 rng(static_cast<unsigned>(t + 1));
      for (int round = 0; round < kRounds; ++round) {
        std::vector<size_t> order(scenarios.size());
        for (size_t i = 0; i < order.size(); ++i) order[i] = i;
        std::shuffle(order.begin(), order.end(), rng);
        for (size_t i : order) {
          const Scenario& s = scenarios[i];
          Outcome got;
          try {
            got = s.run(p.daemon.port());
          } catch (const std::exception& e) {
            got = std::string("exception: ") + e.what();
          }
          std::lock_guard lock(mu);
          ++ran;
          if (s.expected.count(got) == 0) wrong.push_back(s.name + ": got " + got);
        }
      }
    });
  }
  for (auto& c : clients) c.join();
  CHECK(ran == scenarios.size() * kClients * kRounds);
  for (const auto& w : wrong) UNSCOPED_INFO(w);
  CHECK(wrong.empty());

  // Still serving.
  REQUIRE(p.daemon.process().running());
  {
    HttpClient c(p.daemon.port());
    Response ok = c.get("/?size=10");
    CHECK(ok.status == 200);
    CHECK(ok.body.size() == 10);
  }

  // Nothing held: the pooled upstream connections close after keepalive_idle_timeout, the
  // fake sees none open, and the daemon is back to its starting descriptors.
  CHECK(p.fake.waitForOpen(0, 5s).open == 0);
  CHECK(settledDescriptors(pid, baseline, 5s) == baseline);
  const std::string scrape = scrapeMetrics(p.daemon.adminPort());
  CHECK(familySum(scrape, "triaged_requests_in_flight") == 0);
  CHECK(familySum(scrape, "triaged_upstream_connections") == 0);
  // The scrape's own admin connection is not a data-plane client.
  CHECK(familySum(scrape, "triaged_downstream_connections") == 0);
  CHECK(p.daemon.stop() == 0);
}

}  // namespace triaged::test
