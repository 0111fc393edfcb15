#include "triaged/admin/fleet_cli.h"

#include <fmt/format.h>

#include <chrono>
#include <cstdio>
#include <optional>
#include <string>

#include "triaged/admin/fleet_report.h"
#include "triaged/admin/http_get.h"
#include "triaged/admin/terminal.h"

namespace triaged::admin {
namespace {

// Per query. Prometheus's own default query timeout is 2 minutes; an operator at 3 a.m. wants
// an answer or a reason sooner.
constexpr std::chrono::seconds kQueryTimeout{20};

constexpr const char* kUsage =
    "usage: triaged fleet --prometheus URL [--window 15m] [--selector SEL]\n"
    "                     [--instance-label instance] [--node-label node] [--json]\n"
    "  --prometheus URL       the Prometheus that scrapes triaged: http://HOST:PORT[/PREFIX],\n"
    "                         e.g. http://prometheus-operated.monitoring:9090 in the cluster,\n"
    "                         or http://127.0.0.1:9090 through kubectl port-forward\n"
    "  --window DURATION      how far back to look (default 15m; units s m h d, e.g. 1h30m)\n"
    "  --selector SEL         which instances, by their target labels, e.g.\n"
    "                         '{namespace=\"shop\"}' (default: every triaged)\n"
    "  --instance-label NAME  the label that names an instance (default instance; pod in\n"
    "                         Kubernetes)\n"
    "  --node-label NAME      the label that names an instance's node (default node)\n"
    "  --json                 print the JSON document instead of the table\n"
    "Exit 0 with a report (an empty one when nothing failed), 1 when Prometheus cannot be\n"
    "reached or answers an error, 2 on a usage error. The table is coloured when stdout is a\n"
    "terminal, unless NO_COLOR is set or TERM=dumb.\n";

int usageError(const std::string& problem) { return admin::usageError("fleet", problem, kUsage); }

std::string unixSeconds(WallTime t) {
  const auto ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
  return fmt::format("{}.{:03}", ms / 1000, ms % 1000);
}

// Runs one query; on failure, prints the one-line reason and returns nullopt.
class Asker {
 public:
  Asker(const HttpEndpoint& where, std::string url) : where_(where), url_(std::move(url)) {
    options_.timeout = kQueryTimeout;
    options_.user_agent = "triaged-fleet/" TRIAGED_VERSION;
    options_.headers = {{"Accept", "application/json"}};
  }

  std::optional<std::vector<PromSeries>> ask(std::string_view what,
                                             const std::string& path_and_query) const {
    const HttpGetResult got = httpGet(where_, path_and_query, options_);
    if (!got.reply) {
      std::fprintf(stderr, "triaged fleet: %s Prometheus at %s: %s\n",
                   got.unreachable ? "cannot reach" : "no answer from", url_.c_str(),
                   got.problem.c_str());
      return std::nullopt;
    }
    auto series = parsePromAnswer(got.reply->status, got.reply->body);
    if (!series) {
      std::fprintf(stderr, "triaged fleet: asking %s for %.*s: %s\n", url_.c_str(),
                   static_cast<int>(what.size()), what.data(), series.error().message.c_str());
      return std::nullopt;
    }
    return std::move(series).value();
  }

 private:
  const HttpEndpoint& where_;
  std::string url_;
  HttpGetOptions options_;
};

}  // namespace

int runFleetCommand(const std::vector<std::string_view>& args) {
  FleetOptions options;
  std::optional<std::string_view> prometheus;
  bool json = false;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string_view a = args[i];
    if (a == "--help" || a == "-h") {
      std::fputs(kUsage, stdout);
      return 0;
    }
    if (a == "--json") {
      json = true;
      continue;
    }
    std::string_view name = a;
    std::optional<std::string_view> value;
    if (const size_t eq = a.find('='); a.starts_with("--") && eq != std::string_view::npos) {
      name = a.substr(0, eq);
      value = a.substr(eq + 1);
    }
    const bool known = name == "--prometheus" || name == "--window" || name == "--selector" ||
                       name == "--instance-label" || name == "--node-label";
    if (!known) return usageError("unknown argument: " + std::string(a));
    if (!value) {
      if (i + 1 >= args.size()) return usageError(std::string(name) + " needs a value");
      value = args[++i];
    }
    if (name == "--prometheus") {
      prometheus = *value;
    } else if (name == "--window") {
      const auto window = parsePromDuration(*value);
      if (!window) {
        return usageError("--window wants a duration such as 15m, 1h or 1h30m, not '" +
                          std::string(*value) + "'");
      }
      options.window = *window;
    } else if (name == "--selector") {
      const auto selector = parseSelector(*value);
      if (!selector) {
        return usageError("--selector wants label matchers such as '{namespace=\"shop\"}', not '" +
                          std::string(*value) + "'");
      }
      // The selector picks instances: it applies to up and triaged_build_info too, which have
      // no upstream or cause, so matching on those would find no instance at all.
      for (const auto& label : selectorLabelNames(*selector)) {
        if (label == "upstream" || label == "cause" || label == "code" || label == "origin" ||
            label == "__name__") {
          return usageError(
              "--selector picks instances by their target labels (namespace, job,"
              " pod, ...); '" +
              label + "' is not one");
        }
      }
      options.selector = *selector;
    } else {
      if (!isLabelName(*value)) {
        return usageError(std::string(name) +
                          " wants a label name ([a-zA-Z_][a-zA-Z0-9_]*), not '" +
                          std::string(*value) + "'");
      }
      (name == "--instance-label" ? options.instance_label : options.node_label) = *value;
    }
  }
  if (!prometheus) return usageError("--prometheus URL is required");
  if (options.instance_label == options.node_label) {
    return usageError("--instance-label and --node-label must differ");
  }
  const std::optional<HttpEndpoint> where = parseHttpEndpoint(*prometheus);
  if (!where) {
    return usageError(
        "--prometheus wants http://HOST:PORT[/PREFIX] (https is not supported), not '" +
        std::string(*prometheus) + "'");
  }
  options.prometheus = std::string(*prometheus);

  const FleetQueries q = fleetQueries(options);
  const WallTime now = fleetEvaluationTime(std::chrono::system_clock::now(), options.window);
  const std::string at = "&time=" + unixSeconds(now);
  const Asker asker(*where, options.prometheus);
  auto instant = [&](std::string_view what, const std::string& query,
                     std::vector<PromSeries>& out) {
    auto got = asker.ask(what, "/api/v1/query?query=" + urlEncode(query) + at);
    if (got) out = std::move(*got);
    return got.has_value();
  };

  FleetAnswers answers;
  // The range covers (now - window, now]: its first step counts the rises since now - window.
  const std::string range = "&start=" + unixSeconds(now - options.window + q.step) +
                            "&end=" + unixSeconds(now) + "&step=" + std::to_string(q.step.count());
  auto increments = asker.ask("the failures, retries and requests over the window",
                              "/api/v1/query_range?query=" + urlEncode(q.increments) + range);
  if (!increments) return 1;
  answers.increments = std::move(*increments);
  const bool ok =
      instant("the instances affected per cause", q.instances_affected,
              answers.instances_affected) &&
      instant("the nodes affected per cause", q.nodes_affected, answers.nodes_affected) &&
      instant("the instance most affected per cause", q.top_instance, answers.top_instance) &&
      instant("the instances per upstream", q.instances_per_upstream,
              answers.instances_per_upstream) &&
      instant("the instances seen", q.instances_seen, answers.instances_seen) &&
      instant("the versions", q.versions, answers.versions) &&
      instant("the instances not reporting", q.not_reporting, answers.not_reporting) &&
      instant("the failing scrapes", q.down, answers.down);
  if (!ok) return 1;

  const FleetReport report = buildFleetReport(options, answers, now);
  return writeReport("fleet",
                     json ? fleetReportJson(report) : fleetReportText(report, stdoutWantsColour()));
}

}  // namespace triaged::admin
