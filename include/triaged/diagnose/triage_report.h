#pragma once

// The triage report behind /debug/triage and `triaged triage`: recent failures grouped by
// upstream and cause, with counts over the last 1, 5 and 15 minutes, first and last seen, an
// example request id, the endpoint most affected and the hint; plus *episodes*, bursts of one
// cause that started and (perhaps) stopped — "connect_refused on app from 10:01:02 to 10:01:09,
// then no failures: looks like a restart". Pure logic over a list of failure events.

#include <chrono>
#include <string>
#include <vector>

#include "triaged/diagnose/failure.h"

namespace triaged::diagnose {

using WallTime = std::chrono::system_clock::time_point;

struct FailureEvent {
  WallTime at;
  std::string upstream;
  FailureCause cause = FailureCause::None;
  int status = 0;
  std::string endpoint;
  std::string request_id;
  std::string hint;
  std::string trace_id;  // W3C trace id of the request, when it had one
};

struct TriageGroup {
  std::string upstream;
  FailureCause cause = FailureCause::None;
  int status = 0;  // of the latest failure
  uint64_t last_1m = 0;
  uint64_t last_5m = 0;
  uint64_t last_15m = 0;
  WallTime first_seen;
  WallTime last_seen;
  std::string example_request_id;  // of the latest failure
  std::string example_trace_id;    // of the latest failure, when it had one
  std::string top_endpoint;        // the endpoint with most failures in the window
  uint64_t top_endpoint_count = 0;
  std::string hint;  // of the latest failure
};

struct Episode {
  std::string upstream;
  FailureCause cause = FailureCause::None;
  WallTime start;
  WallTime end;
  uint64_t failures = 0;
  bool ongoing = false;  // a failure came within `gap` of now
  std::string summary;   // one sentence for the operator
};

// What triaged knows of an upstream endpoint's idle close (the keep-alive race's cause).
struct IdleCloseNote {
  std::string upstream;
  std::string endpoint;
  std::chrono::milliseconds idle_close{0};
  std::string source;  // "learned from its closes" | "its Keep-Alive header"
  std::chrono::milliseconds keepalive_idle_timeout{0};
};

struct TriageReport {
  WallTime generated_at;
  std::vector<TriageGroup> groups;  // most failures in the last 15 minutes first
  std::vector<Episode> episodes;    // newest first
  std::vector<IdleCloseNote> idle_closes;
};

// `events` in any order; only those within 15 minutes of `now` count. Failures of one
// (upstream, cause) less than `gap` apart belong to one episode; an episode needs 2 failures.
TriageReport buildTriageReport(std::vector<FailureEvent> events, WallTime now,
                               std::chrono::seconds gap = std::chrono::seconds(10));

std::string triageReportJson(const TriageReport& report);
std::string triageReportText(const TriageReport& report);

// "10:01:02" (UTC) — exposed for tests.
std::string clockTime(WallTime t);

}  // namespace triaged::diagnose
