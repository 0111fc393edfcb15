// Bodies far larger than memory budgets stream through triaged: 1 GiB each way, with the
// daemon's resident memory staying flat.

#include <catch2/catch.hpp>
#include <cstdlib>
#include <map>
#include <string>

#include "harness/daemon_process.h"
#include "harness/fake_upstream.h"
#include "harness/http_client.h"

namespace triaged::test {
namespace {

constexpr uint64_t kOneGiB = 1ULL << 30;
constexpr uint64_t kMaxGrowthKb = 24 * 1024;

// Under AddressSanitizer freed blocks sit in a quarantine (256 MiB by default) and would read
// as growth; a small quarantine keeps the memory check meaningful in the sanitizer CI run.
std::map<std::string, std::string> daemonEnv() {
#if defined(__SANITIZE_ADDRESS__)
  const char* existing = getenv("ASAN_OPTIONS");
  std::string options = existing != nullptr ? std::string(existing) + ":" : std::string();
  return {{"ASAN_OPTIONS", options + "quarantine_size_mb=1:thread_local_quarantine_size_kb=64"}};
#else
  return {};
#endif
}

struct Proxied {
  Proxied() : daemon(basicConfig(fake.address()), {}, daemonEnv()) {}

  FakeUpstream fake;
  DaemonProcess daemon;
};

HttpClient::Options longTimeout() {
  HttpClient::Options o;
  o.timeout = 300s;
  return o;
}

// One smaller transfer each way first, so buffers and pools that are sized once exist before
// the baseline is taken.
void warmUp(HttpClient& client) {
  REQUIRE(client.send("GET /?size=8388608 HTTP/1.1\r\nHost: app\r\n\r\n"));
  Response down = client.readResponseDiscardingBody(longTimeout());
  REQUIRE(down.status == 200);
  REQUIRE(down.body_bytes == 8388608);
  REQUIRE(client.send("POST /echo HTTP/1.1\r\nHost: app\r\nContent-Length: 8388608\r\n\r\n"));
  REQUIRE(client.sendStreamingBody(8388608, false));
  REQUIRE(client.readResponse(longTimeout()).status == 200);
}

}  // namespace

TEST_CASE("a 1 GiB download streams through with flat memory", "[integration][streaming]") {
  Proxied p;
  HttpClient client(p.daemon.port());
  warmUp(client);
  uint64_t baseline = p.daemon.rssKb();
  bool peak_reset = p.daemon.resetPeakRss();

  REQUIRE(client.send("GET /?size=" + std::to_string(kOneGiB) + " HTTP/1.1\r\nHost: app\r\n\r\n"));
  Response r = client.readResponseDiscardingBody(longTimeout());
  CHECK(r.status == 200);
  CHECK(r.complete);
  CHECK(r.body_bytes == kOneGiB);

  uint64_t after = peak_reset ? p.daemon.peakRssKb() : p.daemon.rssKb();
  INFO("baseline VmRSS " << baseline << " KiB, " << (peak_reset ? "peak" : "final") << " " << after
                         << " KiB");
  CHECK(after < baseline + kMaxGrowthKb);
}

TEST_CASE("a 1 GiB upload streams through with flat memory", "[integration][streaming]") {
  Proxied p;
  HttpClient client(p.daemon.port());
  warmUp(client);
  uint64_t baseline = p.daemon.rssKb();
  bool peak_reset = p.daemon.resetPeakRss();

  REQUIRE(client.send("POST /echo HTTP/1.1\r\nHost: app\r\nContent-Length: " +
                      std::to_string(kOneGiB) + "\r\n\r\n"));
  REQUIRE(client.sendStreamingBody(kOneGiB, false, 300s));
  Response r = client.readResponse(longTimeout());
  REQUIRE(r.status == 200);
  CHECK(r.body.find("body_bytes " + std::to_string(kOneGiB) + "\n") != std::string::npos);

  uint64_t after = peak_reset ? p.daemon.peakRssKb() : p.daemon.rssKb();
  INFO("baseline VmRSS " << baseline << " KiB, " << (peak_reset ? "peak" : "final") << " " << after
                         << " KiB");
  CHECK(after < baseline + kMaxGrowthKb);
}

}  // namespace triaged::test
