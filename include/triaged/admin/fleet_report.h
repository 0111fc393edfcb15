#pragma once

// The fleet view behind `triaged fleet`: what fails across every triaged that one Prometheus
// scrapes, ranked, with a blast radius per (upstream, cause). Pure logic, no I/O: the PromQL to
// ask (a fixed set of queries whatever the number of instances, aggregated by Prometheus), the
// reading of the HTTP API's answers, the report model, and its text and JSON forms. The
// command (admin/fleet_cli) runs the queries.

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "triaged/core/result.h"
#include "triaged/diagnose/failure.h"

namespace triaged::admin {

using WallTime = std::chrono::system_clock::time_point;

struct FleetOptions {
  std::string prometheus;            // the URL as given, for the report's heading
  std::chrono::seconds window{900};  // how far back to look
  std::string selector;              // label matchers without braces: namespace="shop"; or ""
  std::string instance_label = "instance";
  std::string node_label = "node";
};

// Command-line values (exposed for tests). A Prometheus duration: one or more NUMBER UNIT with
// units d h m s ("15m", "1h30m"), at least 1 s; nullopt otherwise.
std::optional<std::chrono::seconds> parsePromDuration(std::string_view text);
// "15m", "1h30m", "90s" -> "1m30s".
std::string formatPromDuration(std::chrono::seconds d);
// `{a="b", c=~"d"}` (or the same without braces) -> `a="b", c=~"d"`; "{}" and "" -> "". Checks
// the shape only (braces, quotes closed); Prometheus judges the matchers. nullopt when the
// shape is wrong, e.g. a metric name in front.
std::optional<std::string> parseSelector(std::string_view text);
// A Prometheus label name: [a-zA-Z_][a-zA-Z0-9_]*.
bool isLabelName(std::string_view name);
// The label names that matchers from parseSelector() test, in order ("namespace", "pod").
std::vector<std::string> selectorLabelNames(std::string_view matchers);

// One series of an API answer: an instant vector's sample is a series with one point.
using PromLabels = std::map<std::string, std::string, std::less<>>;
struct PromSeries {
  PromLabels labels;
  std::vector<std::pair<double, double>> points;  // (unix seconds, value), in time order
};

// The series of a /api/v1/query or /api/v1/query_range answer (result type vector or matrix),
// given its HTTP status and body. An error answer becomes the one-line reason to print:
// `Prometheus answered 400 (bad_data): "parse error ..."`.
Result<std::vector<PromSeries>> parsePromAnswer(int http_status, std::string_view body);

// What to ask. `increments` is a range query (from T - window + step to T, every step); the rest
// are instant queries at T, the evaluation time (fleetEvaluationTime()). Each is aggregated by
// Prometheus: the answers grow with the number of upstreams, causes, versions and instances that
// stopped reporting, not with the number of instances.
struct FleetQueries {
  std::chrono::seconds step{1};
  std::string increments;  // failures, retries (by upstream, cause) and requests (by upstream)
  std::string instances_affected;
  std::string nodes_affected;
  std::string top_instance;
  std::string instances_per_upstream;
  std::string instances_seen;
  std::string versions;
  std::string not_reporting;
  std::string down;
};
FleetQueries fleetQueries(const FleetOptions& options);
// The range query's step for `window`: about 300 steps, at least 1 s.
std::chrono::seconds fleetStep(std::chrono::seconds window);
// The time the queries are evaluated at: `now` rounded down to a multiple of the step, so the
// instant subquery's points (multiples of the step) end where the range query does.
WallTime fleetEvaluationTime(WallTime now, std::chrono::seconds window);

// The answers, one per query above.
struct FleetAnswers {
  std::vector<PromSeries> increments;
  std::vector<PromSeries> instances_affected;
  std::vector<PromSeries> nodes_affected;
  std::vector<PromSeries> top_instance;
  std::vector<PromSeries> instances_per_upstream;
  std::vector<PromSeries> instances_seen;
  std::vector<PromSeries> versions;
  std::vector<PromSeries> not_reporting;
  std::vector<PromSeries> down;
};

// Which part of the fleet a cause hits, among the instances that route to its upstream.
enum class BlastRadius { OneInstance, OneNode, SomeInstances, AllInstances };
std::string_view blastRadiusName(BlastRadius radius);  // "one_instance", ...

// A run of rises of one cause's fleet-wide counter, less than `gap` apart.
struct FleetEpisode {
  WallTime start;  // the first step at which the counter had risen
  WallTime end;    // the last one
  uint64_t failures = 0;
  bool ongoing = false;  // the last rise is within `gap` of now
};

struct FleetCause {
  std::string upstream;
  std::string cause;  // as Prometheus has it (a newer triaged may name a cause this one does not)
  std::optional<diagnose::FailureCause> known;  // nullopt for such a cause
  std::optional<int> status;  // what the client got, when the cause decides it (502, 503, ...)
  std::string status_text;    // "502", "5xx", "502/504", "-" (the status was sent before), "?"
  uint64_t failures = 0;
  double rate_per_second = 0;
  std::optional<double> share;  // of the upstream's requests; nullopt when none were counted
  uint64_t retries = 0;         // first attempts failing with this cause that a retry absorbed
  uint64_t instances_affected = 0;
  uint64_t instances_with_upstream = 0;  // instances that route to the upstream (denominator)
  uint64_t nodes_affected = 0;
  BlastRadius blast_radius = BlastRadius::SomeInstances;
  std::string node;  // the node, for one_node
  std::string top_instance;
  std::string top_instance_node;
  uint64_t top_instance_failures = 0;
  WallTime first_seen;
  WallTime last_seen;
  std::vector<FleetEpisode> episodes;  // oldest first
  std::string hint;                    // the first step of the cause's hint
};

// An instance that reported within the window and does not now.
struct FleetInstanceDown {
  std::string instance;
  std::string node;
  bool scrape_failing = false;  // its target is still scraped and fails (up == 0); otherwise
                                // it is no longer scraped (removed from discovery, e.g. a
                                // pod deleted by a rollout)
  std::optional<WallTime> last_seen;
};

struct FleetVersion {
  std::string version;
  uint64_t instances = 0;
};

// A cause that retries absorbed on an upstream where it never became a failure.
struct FleetAbsorbed {
  std::string upstream;
  std::string cause;
  uint64_t retries = 0;
};

struct FleetReport {
  WallTime generated_at;
  std::string prometheus;
  std::string selector;  // as matchers, "" for everything
  std::chrono::seconds window{0};
  std::chrono::seconds step{0};
  std::string instance_label;
  std::string node_label;
  uint64_t instances_total = 0;      // reported within the window
  uint64_t instances_reporting = 0;  // of them, report now
  std::vector<FleetInstanceDown> instances_down;
  std::vector<FleetCause> causes;  // most failures first
  std::vector<FleetAbsorbed> absorbed;
  std::vector<FleetVersion> versions;  // of the instances reporting now, most common first
};

// Rises of one cause less than this far apart form one episode.
std::chrono::seconds fleetEpisodeGap(std::chrono::seconds step);

FleetReport buildFleetReport(const FleetOptions& options, const FleetAnswers& answers,
                             WallTime now);

// The first step of a hint template (a config/hints.toml text): its first sentence that says
// what to check (the word "check"), else the sentence after the first (hints open with the status
// and what the proxy saw), with {upstream}, {cause} and {status} filled in. Evidence the fleet
// does not have is left out when it is in parentheses, and shown as <name> otherwise ("curl -v
// http://<endpoint>/").
std::string hintFirstStep(std::string_view hint_template, std::string_view upstream,
                          std::string_view cause, std::string_view status_text);
// hintFirstStep() of `cause`'s English text in the compiled-in catalog; "" for a cause the
// catalog does not know.
std::string fleetHint(std::string_view cause, std::string_view upstream,
                      std::string_view status_text);

// The stable JSON document of `triaged fleet --json`.
std::string fleetReportJson(const FleetReport& report);
// The terminal table; ANSI colour when `colour`.
std::string fleetReportText(const FleetReport& report, bool colour);

}  // namespace triaged::admin
