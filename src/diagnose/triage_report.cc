#include "triaged/diagnose/triage_report.h"

#include <fmt/format.h>

#include <algorithm>
#include <ctime>
#include <map>
#include <tuple>

#include "triaged/core/text.h"
#include "triaged/diagnose/failure_table.h"

namespace triaged::diagnose {
namespace {

using std::chrono::minutes;

constexpr size_t kMaxEpisodes = 20;

std::string iso(WallTime t) {
  const auto secs = std::chrono::time_point_cast<std::chrono::seconds>(t);
  const std::time_t tt = std::chrono::system_clock::to_time_t(secs);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z", tm.tm_year + 1900, tm.tm_mon + 1,
                     tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

}  // namespace

std::string clockTime(WallTime t) {
  const std::time_t tt = std::chrono::system_clock::to_time_t(t);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  return fmt::format("{:02}:{:02}:{:02}", tm.tm_hour, tm.tm_min, tm.tm_sec);
}

TriageReport buildTriageReport(std::vector<FailureEvent> events, WallTime now,
                               std::chrono::seconds gap) {
  TriageReport report;
  report.generated_at = now;
  std::stable_sort(events.begin(), events.end(),
                   [](const FailureEvent& a, const FailureEvent& b) { return a.at < b.at; });

  struct Acc {
    TriageGroup group;
    std::map<std::string, uint64_t> endpoints;
    std::vector<Episode> episodes;
  };
  std::map<std::tuple<std::string, FailureCause>, Acc> by_key;
  for (const auto& e : events) {
    if (e.at > now || now - e.at > minutes(15)) continue;
    Acc& acc = by_key[{e.upstream, e.cause}];
    TriageGroup& g = acc.group;
    if (g.last_15m == 0) {
      g.upstream = e.upstream;
      g.cause = e.cause;
      g.first_seen = e.at;
    }
    ++g.last_15m;
    if (now - e.at <= minutes(5)) ++g.last_5m;
    if (now - e.at <= minutes(1)) ++g.last_1m;
    g.last_seen = e.at;
    g.status = e.status;
    g.example_request_id = e.request_id;
    g.example_trace_id = e.trace_id;
    if (!e.hint.empty()) g.hint = e.hint;
    if (!e.endpoint.empty()) ++acc.endpoints[e.endpoint];

    if (acc.episodes.empty() || e.at - acc.episodes.back().end > gap) {
      Episode ep;
      ep.upstream = e.upstream;
      ep.cause = e.cause;
      ep.start = e.at;
      acc.episodes.push_back(ep);
    }
    acc.episodes.back().end = e.at;
    ++acc.episodes.back().failures;
  }

  for (auto& [key, acc] : by_key) {
    for (const auto& [endpoint, n] : acc.endpoints) {
      if (n > acc.group.top_endpoint_count) {
        acc.group.top_endpoint = endpoint;
        acc.group.top_endpoint_count = n;
      }
    }
    report.groups.push_back(acc.group);
    for (auto& ep : acc.episodes) {
      if (ep.failures < 2) continue;
      ep.ongoing = now - ep.end <= gap;
      const auto name = causeName(ep.cause);
      if (ep.ongoing) {
        ep.summary =
            fmt::format("{} on {} since {} ({} failures), still going: {}", name, ep.upstream,
                        clockTime(ep.start), ep.failures, episodeMeaning(ep.cause));
      } else {
        ep.summary = fmt::format("{} on {} from {} to {} ({} failures), then no more failures: {}",
                                 name, ep.upstream, clockTime(ep.start), clockTime(ep.end),
                                 ep.failures, episodeMeaning(ep.cause));
      }
      report.episodes.push_back(ep);
    }
  }
  std::stable_sort(report.groups.begin(), report.groups.end(),
                   [](const TriageGroup& a, const TriageGroup& b) {
                     return std::tie(b.last_15m, b.last_seen) < std::tie(a.last_15m, a.last_seen);
                   });
  std::stable_sort(report.episodes.begin(), report.episodes.end(),
                   [](const Episode& a, const Episode& b) { return a.end > b.end; });
  if (report.episodes.size() > kMaxEpisodes) report.episodes.resize(kMaxEpisodes);
  return report;
}

std::string triageReportJson(const TriageReport& r) {
  std::string out =
      "{\n  \"generated_at\": " + jsonQuoted(iso(r.generated_at)) + ",\n  \"groups\": [";
  for (size_t i = 0; i < r.groups.size(); ++i) {
    const auto& g = r.groups[i];
    const auto& info = causeInfo(g.cause);
    out += i == 0 ? "\n" : ",\n";
    out += fmt::format(
        "    {{\"upstream\": {}, \"cause\": {}, \"class\": {}, \"status\": {}, "
        "\"count_1m\": {}, \"count_5m\": {}, \"count_15m\": {}, \"first_seen\": {}, "
        "\"last_seen\": {}, \"example_request_id\": {}, \"example_trace_id\": {}, "
        "\"top_endpoint\": {}, \"top_endpoint_count\": {}, \"hint\": {}}}",
        jsonQuoted(g.upstream), jsonQuoted(info.name), jsonQuoted(info.cause_class), g.status,
        g.last_1m, g.last_5m, g.last_15m, jsonQuoted(iso(g.first_seen)),
        jsonQuoted(iso(g.last_seen)), jsonQuoted(g.example_request_id),
        g.example_trace_id.empty() ? std::string("null") : jsonQuoted(g.example_trace_id),
        jsonQuoted(g.top_endpoint), g.top_endpoint_count, jsonQuoted(g.hint));
  }
  out += r.groups.empty() ? "],\n  \"episodes\": [" : "\n  ],\n  \"episodes\": [";
  for (size_t i = 0; i < r.episodes.size(); ++i) {
    const auto& e = r.episodes[i];
    out += i == 0 ? "\n" : ",\n";
    out += fmt::format(
        "    {{\"upstream\": {}, \"cause\": {}, \"start\": {}, \"end\": {}, \"failures\": {}, "
        "\"ongoing\": {}, \"summary\": {}}}",
        jsonQuoted(e.upstream), jsonQuoted(causeName(e.cause)), jsonQuoted(iso(e.start)),
        jsonQuoted(iso(e.end)), e.failures, e.ongoing ? "true" : "false", jsonQuoted(e.summary));
  }
  out += r.episodes.empty() ? "],\n  \"keepalive\": [" : "\n  ],\n  \"keepalive\": [";
  for (size_t i = 0; i < r.idle_closes.size(); ++i) {
    const auto& k = r.idle_closes[i];
    out += i == 0 ? "\n" : ",\n";
    out += fmt::format(
        "    {{\"upstream\": {}, \"endpoint\": {}, \"idle_close_ms\": {}, \"source\": {}, "
        "\"keepalive_idle_timeout_ms\": {}}}",
        jsonQuoted(k.upstream), jsonQuoted(k.endpoint), k.idle_close.count(), jsonQuoted(k.source),
        k.keepalive_idle_timeout.count());
  }
  out += r.idle_closes.empty() ? "]\n}\n" : "\n  ]\n}\n";
  return out;
}

namespace {

// "Keep-alive: ..." lines: what triaged knows of each upstream's idle close, and whether the
// configured keepalive_idle_timeout is below it (if not, the race is only avoided by learning).
std::string idleCloseLines(const TriageReport& r) {
  if (r.idle_closes.empty()) return {};
  std::string out = "\nKeep-alive (when each upstream closes idle connections):\n";
  for (const auto& k : r.idle_closes) {
    const bool below = k.keepalive_idle_timeout < k.idle_close;
    out += fmt::format("  {} {}: after {:.1f} s ({}); keepalive_idle_timeout {:.1f} s{}\n",
                       k.upstream, k.endpoint, static_cast<double>(k.idle_close.count()) / 1000.0,
                       k.source, static_cast<double>(k.keepalive_idle_timeout.count()) / 1000.0,
                       below ? "" : ": set it below, or raise the app's keep-alive timeout");
  }
  return out;
}

}  // namespace

std::string triageReportText(const TriageReport& r) {
  std::string out =
      fmt::format("triaged triage report, {} (last 15 minutes)\n\n", iso(r.generated_at));
  if (r.groups.empty()) {
    out += "No failures in the last 15 minutes.\n";
    return out + idleCloseLines(r);
  }
  out += fmt::format("{:<16} {:<24} {:>6} {:>5} {:>5} {:>5}  {:<9} {:<9} {:<22} {}\n", "UPSTREAM",
                     "CAUSE", "STATUS", "1m", "5m", "15m", "FIRST", "LAST", "TOP ENDPOINT",
                     "EXAMPLE REQUEST ID");
  for (const auto& g : r.groups) {
    out += fmt::format(
        "{:<16} {:<24} {:>6} {:>5} {:>5} {:>5}  {:<9} {:<9} {:<22} {}\n",
        g.upstream.empty() ? "-" : g.upstream, causeName(g.cause), g.status, g.last_1m, g.last_5m,
        g.last_15m, clockTime(g.first_seen), clockTime(g.last_seen),
        g.top_endpoint.empty() ? std::string("-")
                               : fmt::format("{} ({})", g.top_endpoint, g.top_endpoint_count),
        g.example_request_id);
  }
  out += "\nHints (latest per upstream and cause):\n";
  for (const auto& g : r.groups) {
    if (g.hint.empty()) continue;
    out += fmt::format("  {} / {}: {}\n", g.upstream.empty() ? "-" : g.upstream, causeName(g.cause),
                       g.hint);
  }
  if (!r.episodes.empty()) {
    out += "\nEpisodes:\n";
    for (const auto& e : r.episodes) out += fmt::format("  {}\n", e.summary);
  }
  return out + idleCloseLines(r);
}

}  // namespace triaged::diagnose
