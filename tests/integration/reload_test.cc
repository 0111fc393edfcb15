// Changing the configuration of a running triaged (issue 25): SIGHUP and the watched file, under
// load and with requests in flight; what survives a reload (pooled connections, counters) and
// what a bad file or a restart-only key does (nothing, loudly).

#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "harness/daemon_process.h"
#include "harness/fake_upstream.h"
#include "harness/http_client.h"
#include "harness/metrics_scrape.h"
#include "harness/test_support.h"

namespace triaged::test {
namespace {

using Clock = std::chrono::steady_clock;

// A config with "app" on "/" and, optionally, "extra" (its own fake) on "/extra".
std::string twoUpstreams(const std::string& app, const std::string& extra,
                         const std::string& server_keys = "") {
  std::string c = basicConfig(app, "", server_keys);
  if (!extra.empty()) {
    c += "\n[[upstream]]\nname = \"extra\"\nendpoints = [\"" + extra + "\"]\n";
    c += "\n[[route]]\nprefix = \"/extra\"\nupstream = \"extra\"\n";
  }
  return c;
}

void rewrite(const std::string& path, const std::string& content) {
  // Written aside and renamed over, as an editor or a config tool does.
  const std::string tmp = path + ".new";
  std::ofstream(tmp) << content;
  REQUIRE(std::rename(tmp.c_str(), path.c_str()) == 0);
}

std::optional<std::string> reloadAndWait(DaemonProcess& d, size_t reloads_before,
                                         std::string_view event = "\"event\":\"config_reloaded\"") {
  REQUIRE(d.process().signal(SIGHUP));
  const auto deadline = Clock::now() + 5s;
  while (Clock::now() < deadline) {
    const auto lines = d.logLinesContaining(event);
    if (lines.size() > reloads_before) return lines.back();
    d.process().waitForLineCount(d.logLines().size(), 50ms);
  }
  return std::nullopt;
}

TEST_CASE("a reload under keep-alive load fails no request and adds the route at once",
          "[integration][reload]") {
  FakeUpstream app;
  FakeUpstream extra;
  DaemonProcess d(twoUpstreams(app.address(), ""));
  std::atomic<bool> stop{false};
  std::atomic<int> failures{0};
  std::atomic<int> done{0};
  std::vector<std::thread> clients;
  for (int i = 0; i < 16; ++i) {
    clients.emplace_back([&] {
      try {
        HttpClient c(d.port());
        while (!stop) {
          const Response r = c.get("/", {}, withTimeout(5s));
          if (r.status != 200 || !r.complete || r.peer_reset) ++failures;
          ++done;
        }
      } catch (const std::exception&) {
        ++failures;
      }
    });
  }
  // Reload five times while they run: the last adds /extra.
  for (int i = 0; i < 5; ++i) {
    // Traffic flows between reloads: wait for 50 more answers (bounded).
    const int target = done + 50;
    const auto until = Clock::now() + 5s;
    while (done < target && Clock::now() < until) std::this_thread::sleep_for(5ms);
    const bool last = i == 4;
    rewrite(d.configPath(),
            twoUpstreams(app.address(), last ? extra.address() : "",
                         "client_idle_timeout = \"" + std::to_string(30 + i) + "s\""));
    REQUIRE(reloadAndWait(d, static_cast<size_t>(i)));
  }
  // The new route answers within a second of the reload line.
  const auto deadline = Clock::now() + 1s;
  int status = 0;
  while (Clock::now() < deadline && status != 200) {
    HttpClient c(d.port());
    status = c.get("/extra/x?body=extra").status;
  }
  CHECK(status == 200);
  stop = true;
  for (auto& t : clients) t.join();
  CHECK(done >= 250);
  CHECK(failures == 0);
  CHECK(extra.stats().requests >= 1);
  const Response ready = d.admin("/readyz");
  CHECK(ready.status == 200);
  const std::string scrape = scrapeMetrics(d.adminPort());
  CHECK(sample(scrape, "triaged_config_reloads_total{result=\"success\"}") == 5);
}

TEST_CASE("an invalid file is refused whole: every problem logged, the old config serves",
          "[integration][reload]") {
  FakeUpstream app;
  DaemonProcess d(basicConfig(app.address()));
  const std::string config_before = d.admin("/config").body;
  const std::string before = scrapeMetrics(d.adminPort());
  rewrite(d.configPath(),
          basicConfig(app.address(), "connect_timeout = \"soon\"", "workers = -1\nbogus_key = 1"));
  const auto failed = reloadAndWait(d, 0, "\"event\":\"config_reload_failed\"");
  REQUIRE(failed);
  const auto problems = d.logLinesContaining("\"event\":\"config_problem\"");
  CHECK(problems.size() == 3);
  for (const auto& p : problems) {
    const std::string text = jsonField(p, "problem").value_or("");
    INFO(text);
    CHECK(text.rfind(d.configPath() + ":", 0) == 0);  // FILE:LINE: KEY: reason
  }
  CHECK(HttpClient(d.port()).get("/").status == 200);
  const std::string after = scrapeMetrics(d.adminPort());
  CHECK(sample(after, "triaged_config_reloads_total{result=\"failure\"}") == 1);
  CHECK(sample(after, "triaged_config_reloads_total{result=\"success\"}") == 0);
  // The configuration in force is still the old one.
  const auto info = [](const std::string& s) {
    const auto at = s.find("triaged_config_info{hash=\"");
    return at == std::string::npos ? std::string() : s.substr(at, 44);
  };
  CHECK_FALSE(info(before).empty());
  CHECK(info(after) == info(before));
  CHECK(d.admin("/config").body == config_before);
}

TEST_CASE("a key that needs a restart refuses the reload and names the key",
          "[integration][reload]") {
  FakeUpstream app;
  DaemonProcess d(basicConfig(app.address()));
  rewrite(d.configPath(), basicConfig(app.address(), "", "workers = 2"));
  const auto failed = reloadAndWait(d, 0, "\"event\":\"config_reload_failed\"");
  REQUIRE(failed);
  CHECK(contains(jsonField(*failed, "reason").value_or(""), "server.workers"));
  CHECK(contains(jsonField(*failed, "reason").value_or(""), "restart"));
}

TEST_CASE("an upstream removed with a request in flight: the request completes",
          "[integration][reload]") {
  FakeUpstream app;
  FakeUpstream extra;
  DaemonProcess d(twoUpstreams(app.address(), extra.address()));
  HttpClient slow(d.port());
  REQUIRE(slow.send("GET /extra/slow?delay_headers=1500&body=finished HTTP/1.1\r\nHost: " +
                    slow.hostHeader() + "\r\n\r\n"));
  REQUIRE(extra.waitForRequests(1).requests == 1);
  rewrite(d.configPath(), twoUpstreams(app.address(), ""));
  const auto reloaded = reloadAndWait(d, 0);
  REQUIRE(reloaded);
  CHECK(contains(jsonField(*reloaded, "changes").value_or(""), "-extra"));
  const Response r = slow.readResponse(withTimeout(5s));
  CHECK(r.status == 200);
  CHECK(r.body == "finished");
  // New requests no longer reach it ("/" takes them now).
  CHECK(HttpClient(d.port()).get("/extra/x").status == 200);
  CHECK(extra.stats().requests == 1);
  CHECK(extra.waitForOpen(0).open == 0);  // its connection closed when the request ended
}

TEST_CASE("an unchanged upstream keeps its pooled connections and its counters",
          "[integration][reload]") {
  FakeUpstream app;
  FakeUpstream extra;
  DaemonProcess d(twoUpstreams(app.address(), ""));
  HttpClient c(d.port());
  REQUIRE(c.get("/").status == 200);
  REQUIRE(c.get("/").status == 200);
  rewrite(d.configPath(), twoUpstreams(app.address(), extra.address()));
  REQUIRE(reloadAndWait(d, 0));
  REQUIRE(c.get("/").status == 200);
  // The upstream saw no new connection: the pooled one served the request after the reload.
  CHECK(app.stats().connections == 1);
  const std::string scrape = scrapeMetrics(d.adminPort());
  CHECK(sample(scrape,
               "triaged_requests_total{upstream=\"app\",code=\"200\",origin=\"upstream\"}") == 3);
  // The new upstream's failure series are there, at 0.
  CHECK(contains(scrape, "triaged_failures_total{upstream=\"extra\",cause=\"connect_refused\"} 0"));
}

TEST_CASE("a ConfigMap-style symlink swap reloads when watch_config is on",
          "[integration][reload]") {
  FakeUpstream app;
  FakeUpstream extra;
  TempDir dir;
  namespace fs = std::filesystem;
  // The kubelet's layout: NAME -> ..data/NAME, ..data -> ..<timestamp>/, swapped by a rename.
  const fs::path root(dir.path());
  fs::create_directory(root / "..v1");
  std::ofstream(root / "..v1" / "triaged.toml")
      << twoUpstreams(app.address(), "", "watch_config = true");
  fs::create_directory_symlink("..v1", root / "..data");
  fs::create_symlink("..data/triaged.toml", root / "triaged.toml");
  DaemonProcess d("", {"--config", (root / "triaged.toml").string()});
  fs::create_directory(root / "..v2");
  std::ofstream(root / "..v2" / "triaged.toml")
      << twoUpstreams(app.address(), extra.address(), "watch_config = true");
  fs::create_directory_symlink("..v2", root / "..data_tmp");
  fs::rename(root / "..data_tmp", root / "..data");
  const auto line = d.waitForLog("\"event\":\"config_reloaded\"", 5s);
  REQUIRE(line);
  CHECK(jsonField(*line, "trigger") == "watch");
  CHECK(HttpClient(d.port()).get("/extra/x?body=v2").body == "v2");
}

TEST_CASE("a changed listen address: the new one serves, the old one is closed",
          "[integration][reload]") {
  FakeUpstream app;
  DaemonProcess d(basicConfig(app.address()));
  const uint16_t old_port = d.port();
  const uint16_t new_port = closedPort();
  std::string config = basicConfig(app.address());
  config.replace(config.find("listen = \"127.0.0.1:0\""), 22,
                 "listen = \"127.0.0.1:" + std::to_string(new_port) + "\"");
  rewrite(d.configPath(), config);
  const auto line = reloadAndWait(d, 0);
  REQUIRE(line);
  CHECK(jsonField(*line, "listen") == "127.0.0.1:" + std::to_string(new_port));
  CHECK(HttpClient(new_port).get("/").status == 200);
  // The old listener is gone once the workers switched.
  const auto deadline = Clock::now() + 2s;
  bool refused = false;
  while (!refused && Clock::now() < deadline) {
    try {
      HttpClient probe(old_port, "127.0.0.1", 200ms);
    } catch (const std::exception&) {
      refused = true;
    }
  }
  CHECK(refused);
}

}  // namespace
}  // namespace triaged::test
