#include "triaged/diagnose/triage_report.h"

#include <catch2/catch.hpp>

#include "triaged/diagnose/failure_table.h"

namespace triaged::diagnose {
namespace {

using std::chrono::seconds;

// 2026-11-25T10:00:00Z
const WallTime kT0 = WallTime{} + seconds(1795600800);

FailureEvent ev(int at_s, FailureCause cause, std::string upstream = "app",
                std::string endpoint = "10.0.3.7:8080", std::string id = "id") {
  return FailureEvent{kT0 + seconds(at_s),
                      std::move(upstream),
                      cause,
                      502,
                      std::move(endpoint),
                      std::move(id),
                      "hint for " + std::string(causeName(cause)),
                      {}};
}

}  // namespace

TEST_CASE("failures are grouped by upstream and cause with 1/5/15 minute counts",
          "[unit][triage_report]") {
  std::vector<FailureEvent> events{
      ev(0, FailureCause::ConnectRefused),    // 15 min window only (now = +600 s)
      ev(400, FailureCause::ConnectRefused),  // within 5 min
      ev(590, FailureCause::ConnectRefused, "app", "10.0.3.8:8080", "latest"),
      ev(595, FailureCause::ConnectRefused, "app", "10.0.3.8:8080", "newest"),
      ev(100, FailureCause::StaleKeepalive, "billing"),
      ev(-2000, FailureCause::ConnectRefused),  // older than 15 minutes: ignored
  };
  const auto r = buildTriageReport(events, kT0 + seconds(600));
  REQUIRE(r.groups.size() == 2);
  const auto& g = r.groups[0];
  CHECK(g.upstream == "app");
  CHECK(g.cause == FailureCause::ConnectRefused);
  CHECK(g.last_15m == 4);
  CHECK(g.last_5m == 3);
  CHECK(g.last_1m == 2);
  CHECK(g.first_seen == kT0);
  CHECK(g.last_seen == kT0 + seconds(595));
  CHECK(g.example_request_id == "newest");
  CHECK(g.top_endpoint == "10.0.3.7:8080");  // 2 of 4 (ties keep the first)
  CHECK(g.hint == "hint for connect_refused");
  CHECK(r.groups[1].upstream == "billing");
}

TEST_CASE("a burst that stopped is an episode that says what it looks like",
          "[unit][triage_report]") {
  std::vector<FailureEvent> events;
  for (int s = 62; s <= 69; ++s) events.push_back(ev(s, FailureCause::ConnectRefused));
  const auto r = buildTriageReport(events, kT0 + seconds(300));
  REQUIRE(r.episodes.size() == 1);
  const auto& e = r.episodes[0];
  CHECK_FALSE(e.ongoing);
  CHECK(e.failures == 8);
  CHECK(e.summary ==
        "connect_refused on app from 10:01:02 to 10:01:09 (8 failures), then no more failures: "
        "looks like a restart or crash of the upstream");
}

TEST_CASE("separate bursts are separate episodes; lone failures are not episodes",
          "[unit][triage_report]") {
  std::vector<FailureEvent> events{
      ev(0, FailureCause::ResponseHeaderTimeout),   ev(5, FailureCause::ResponseHeaderTimeout),
      ev(60, FailureCause::ResponseHeaderTimeout),  // alone: gap > 10 s on both sides
      ev(120, FailureCause::ResponseHeaderTimeout), ev(125, FailureCause::ResponseHeaderTimeout),
  };
  const auto r = buildTriageReport(events, kT0 + seconds(130));
  REQUIRE(r.episodes.size() == 2);
  CHECK(r.episodes[0].ongoing);  // newest first, last failure 5 s ago
  CHECK(r.episodes[0].summary.find("still going: a slow period") != std::string::npos);
  CHECK_FALSE(r.episodes[1].ongoing);
  CHECK(r.episodes[1].failures == 2);
}

TEST_CASE("the report renders as JSON and as a text table", "[unit][triage_report]") {
  std::vector<FailureEvent> events{ev(1, FailureCause::ConnectRefused),
                                   ev(2, FailureCause::ConnectRefused)};
  const auto r = buildTriageReport(events, kT0 + seconds(60));
  const std::string json = triageReportJson(r);
  CHECK(json.find("\"cause\": \"connect_refused\"") != std::string::npos);
  CHECK(json.find("\"count_15m\": 2") != std::string::npos);
  CHECK(json.find("\"episodes\": [") != std::string::npos);
  const std::string text = triageReportText(r);
  CHECK(text.find("UPSTREAM") != std::string::npos);
  CHECK(text.find("connect_refused") != std::string::npos);
  CHECK(text.find("Episodes:") != std::string::npos);
  const std::string empty = triageReportText(buildTriageReport({}, kT0));
  CHECK(empty.find("No failures in the last 15 minutes.") != std::string::npos);
  CHECK(triageReportJson(buildTriageReport({}, kT0)).find("\"groups\": []") != std::string::npos);
}

}  // namespace triaged::diagnose
