#include "triaged/admin/fleet_report.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <ctime>
#include <map>
#include <set>
#include <system_error>
#include <tuple>

#include "triaged/admin/terminal.h"
#include "triaged/config/config_loader.h"
#include "triaged/core/json_value.h"
#include "triaged/core/text.h"
#include "triaged/diagnose/failure_table.h"
#include "triaged/diagnose/triage_hint.h"
#include "triaged/diagnose/triage_report.h"

namespace triaged::admin {
namespace {

using std::chrono::seconds;

// The range query's resolution: about this many steps over the window, and never below 1 s.
constexpr int64_t kStepsPerWindow = 300;
// The label that tells the range query's three parts apart (see fleetQueries()).
constexpr std::string_view kPartLabel = "triaged_fleet";

// ---------------------------------------------------------------------------------------------
// Values

uint64_t toCount(double v) {
  if (!std::isfinite(v) || v <= 0) return 0;
  return static_cast<uint64_t>(std::llround(v));
}

WallTime fromUnixSeconds(double t) {
  return WallTime(std::chrono::duration_cast<WallTime::duration>(std::chrono::duration<double>(t)));
}

std::tm utc(WallTime t) {
  const std::time_t tt = std::chrono::system_clock::to_time_t(t);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  return tm;
}

std::string iso(WallTime t) {
  const std::tm tm = utc(std::chrono::time_point_cast<seconds>(t));
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z", tm.tm_year + 1900, tm.tm_mon + 1,
                     tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

// "10:01:02", or "12-01 10:01:02" when the window spans more than a day.
std::string shortTime(WallTime t, seconds window) {
  if (window <= std::chrono::hours(24)) return diagnose::clockTime(t);
  const std::tm tm = utc(t);
  return fmt::format("{:02}-{:02} {}", tm.tm_mon + 1, tm.tm_mday, diagnose::clockTime(t));
}

std::string jsonNumber(double v) { return std::isfinite(v) ? fmt::format("{}", v) : "null"; }

std::string labelOf(const PromSeries& s, std::string_view name) {
  const auto it = s.labels.find(name);
  return it == s.labels.end() ? std::string() : it->second;
}

double lastValue(const PromSeries& s) { return s.points.empty() ? 0 : s.points.back().second; }

// The status a client got for `cause`, when the cause decides it; for passed-on statuses the
// cause says which ones they can be.
void describeStatus(std::optional<diagnose::FailureCause> cause, FleetCause& row) {
  if (!cause) {
    row.status_text = "?";
    return;
  }
  const auto& info = diagnose::causeInfo(*cause);
  switch (*cause) {
    case diagnose::FailureCause::UpstreamUnavailable:
      row.status = 503;
      break;
    case diagnose::FailureCause::UpstreamAppError:
      row.status_text = "5xx";
      return;
    case diagnose::FailureCause::UpstreamGatewayError:
      row.status_text = "502/504";
      return;
    case diagnose::FailureCause::TruncatedResponse:
    case diagnose::FailureCause::BodyIdleTimeout:
      row.status_text = "-";  // the upstream's status had already gone out
      return;
    default:
      if (info.status != 0) row.status = info.status;
      break;
  }
  row.status_text = row.status ? std::to_string(*row.status) : "?";
}

// ---------------------------------------------------------------------------------------------
// Hints

bool isWordChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

bool mentionsCheck(std::string_view sentence) {
  for (size_t at = 0; at + 5 <= sentence.size(); ++at) {
    const std::string_view w = sentence.substr(at, 5);
    if ((w != "check" && w != "Check") || (at > 0 && isWordChar(sentence[at - 1]))) continue;
    if (at + 5 == sentence.size() || !isWordChar(sentence[at + 5])) return true;
  }
  return false;
}

// Sentences end at a '.' outside parentheses that ends the text or is followed by a space and a
// capital or a placeholder ("Node.js", "e.g. the" and "(... 5s.)" do not end one).
std::vector<std::string_view> sentences(std::string_view text) {
  std::vector<std::string_view> out;
  int depth = 0;
  size_t start = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '(') ++depth;
    if (c == ')' && depth > 0) --depth;
    if (c != '.' || depth != 0) continue;
    const bool last = i + 1 == text.size();
    const bool next = i + 2 < text.size() && text[i + 1] == ' ' &&
                      ((text[i + 2] >= 'A' && text[i + 2] <= 'Z') || text[i + 2] == '{');
    if (!last && !next) continue;
    out.push_back(text.substr(start, i + 1 - start));
    start = i + 2;
  }
  if (start < text.size()) out.push_back(text.substr(start));
  return out;
}

// The evidence the fleet has for a hint, by placeholder name.
using FleetFields = std::map<std::string, std::string, std::less<>>;

bool allKnown(std::string_view text, const FleetFields& fields) {
  for (const auto& name : diagnose::templatePlaceholders(text)) {
    if (fields.find(name) == fields.end()) return false;
  }
  return true;
}

// Removes each parenthesis (with the space before it) that quotes evidence not in `fields`.
std::string dropUnknownParentheses(std::string_view text, const FleetFields& fields) {
  std::string out;
  size_t i = 0;
  while (i < text.size()) {
    if (text[i] != '(') {
      out.push_back(text[i++]);
      continue;
    }
    size_t close = i;
    for (int depth = 0; close < text.size(); ++close) {
      if (text[close] == '(') ++depth;
      if (text[close] == ')' && --depth == 0) break;
    }
    if (close == text.size()) {  // unbalanced: keep the rest as it is
      out.append(text.substr(i));
      break;
    }
    const std::string_view group = text.substr(i, close + 1 - i);
    if (allKnown(group, fields)) {
      out.append(group);
    } else if (!out.empty() && out.back() == ' ') {
      out.pop_back();
    }
    i = close + 1;
  }
  return out;
}

// PromQL strings: "..." and '...' with backslash escapes, `...` raw.
bool isQuote(char c) { return c == '"' || c == '\'' || c == '`'; }

// The index just past the string that opens at text[i]; text.size() + 1 when it never closes.
size_t pastQuoted(std::string_view text, size_t i) {
  const char quote = text[i];
  for (++i; i < text.size(); ++i) {
    if (text[i] == '\\' && quote != '`') {
      ++i;
    } else if (text[i] == quote) {
      return i + 1;
    }
  }
  return text.size() + 1;
}

// ---------------------------------------------------------------------------------------------
// Rendering helpers

// Columns padded to their widest cell; `right` marks right-aligned columns.
std::vector<std::string> tableLines(const std::vector<std::vector<std::string>>& rows,
                                    const std::vector<bool>& right) {
  std::vector<size_t> width(right.size(), 0);
  for (const auto& row : rows) {
    for (size_t c = 0; c < row.size() && c < width.size(); ++c) {
      width[c] = std::max(width[c], row[c].size());
    }
  }
  std::vector<std::string> lines;
  for (const auto& row : rows) {
    std::string line;
    for (size_t c = 0; c < row.size() && c < width.size(); ++c) {
      if (c > 0) line += "  ";
      const bool last = c + 1 == row.size();
      if (right[c]) {
        line += fmt::format("{:>{}}", row[c], width[c]);
      } else {
        line += last ? row[c] : fmt::format("{:<{}}", row[c], width[c]);
      }
    }
    lines.push_back(std::move(line));
  }
  return lines;
}

// A label value as the terminal shows it: label values are any UTF-8 (an upstream name comes
// from some instance's configuration), and a control character must not reach the terminal.
std::string shown(std::string_view value) {
  return value.empty() ? std::string("-") : printable(value, 80);
}

std::string paint(const std::string& line, const char* colour, bool enabled) {
  if (!enabled || colour == nullptr || line.empty()) return line;
  return std::string(colour) + line + kReset;
}

std::string blastRadiusText(const FleetCause& c) {
  switch (c.blast_radius) {
    case BlastRadius::OneInstance:
      return "one instance: " + shown(c.top_instance);
    case BlastRadius::OneNode:
      return "one node: " + shown(c.node);
    case BlastRadius::SomeInstances:
      return fmt::format("some instances ({} nodes)", c.nodes_affected);
    case BlastRadius::AllInstances:
      return "all instances";
  }
  return "";
}

std::string rateText(double per_second) {
  if (per_second <= 0) return "0";
  return fmt::format("{:.3g}", per_second);
}

std::string selectorText(const std::string& matchers) {
  return matchers.empty() ? std::string("{}") : "{" + matchers + "}";
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Command-line values

std::optional<seconds> parsePromDuration(std::string_view text) {
  if (text.empty()) return std::nullopt;
  int64_t total = 0;
  size_t i = 0;
  while (i < text.size()) {
    int64_t n = 0;
    const char* first = text.data() + i;
    const auto [end, ec] = std::from_chars(first, text.data() + text.size(), n);
    if (ec != std::errc() || end == first || n < 0) return std::nullopt;
    i += static_cast<size_t>(end - first);
    if (i >= text.size()) return std::nullopt;  // a unit is required
    int64_t unit = 0;
    switch (text[i]) {
      case 's':
        unit = 1;
        break;
      case 'm':
        unit = 60;
        break;
      case 'h':
        unit = 3600;
        break;
      case 'd':
        unit = 86400;
        break;
      default:
        return std::nullopt;
    }
    ++i;
    if (n > (int64_t{1} << 40) / unit) return std::nullopt;
    total += n * unit;
  }
  if (total < 1 || total > (int64_t{1} << 40)) return std::nullopt;
  return seconds(total);
}

std::string formatPromDuration(seconds d) {
  int64_t s = d.count();
  std::string out;
  for (const auto& [unit, name] : {std::pair<int64_t, char>{86400, 'd'}, {3600, 'h'}, {60, 'm'}}) {
    if (s >= unit) {
      out += std::to_string(s / unit) + name;
      s %= unit;
    }
  }
  if (s > 0 || out.empty()) out += std::to_string(s) + "s";
  return out;
}

std::optional<std::string> parseSelector(std::string_view text) {
  while (!text.empty() && text.front() == ' ') text.remove_prefix(1);
  while (!text.empty() && text.back() == ' ') text.remove_suffix(1);
  if (!text.empty() && text.front() == '{') {
    if (text.size() < 2 || text.back() != '}') return std::nullopt;
    text = text.substr(1, text.size() - 2);
  }
  // Outside quotes: no braces and no brackets (a metric name or a second selector is not a
  // matcher list); quotes must close.
  for (size_t i = 0; i < text.size();) {
    const char c = text[i];
    if (isQuote(c)) {
      i = pastQuoted(text, i);
      if (i > text.size()) return std::nullopt;
      continue;
    }
    if (c == '{' || c == '}' || c == '[' || c == ']' || c == '(' || c == ')') return std::nullopt;
    ++i;
  }
  std::string_view inner = text;
  while (!inner.empty() && (inner.front() == ' ')) inner.remove_prefix(1);
  while (!inner.empty() && (inner.back() == ' ')) inner.remove_suffix(1);
  if (!inner.empty() && inner.front() != '_' && !isWordChar(inner.front())) return std::nullopt;
  return std::string(inner);
}

std::vector<std::string> selectorLabelNames(std::string_view matchers) {
  std::vector<std::string> names;
  size_t i = 0;
  while (i < matchers.size()) {
    while (i < matchers.size() && (matchers[i] == ' ' || matchers[i] == ',')) ++i;
    const size_t start = i;
    while (i < matchers.size() && isWordChar(matchers[i])) ++i;
    if (i > start) names.emplace_back(matchers.substr(start, i - start));
    // Skip the operator and the quoted value up to the next matcher.
    while (i < matchers.size() && matchers[i] != ',') {
      i = isQuote(matchers[i]) ? pastQuoted(matchers, i) : i + 1;
    }
  }
  return names;
}

bool isLabelName(std::string_view name) {
  if (name.empty() || (name.front() >= '0' && name.front() <= '9')) return false;
  return std::all_of(name.begin(), name.end(), isWordChar);
}

// ---------------------------------------------------------------------------------------------
// The API's answers

Result<std::vector<PromSeries>> parsePromAnswer(int http_status, std::string_view body) {
  const auto doc = parseJson(body);
  if (!doc) {
    const std::string_view first_line = body.substr(0, body.find('\n'));
    if (http_status != 200) {
      return Error{fmt::format("Prometheus answered {}, not with its API's JSON: {}", http_status,
                               jsonQuoted(printable(first_line, 160)))};
    }
    return Error{"Prometheus's answer is not valid JSON: " + doc.error().message};
  }
  const JsonValue* status = doc->find("status");
  if (status == nullptr || status->string() == nullptr) {
    return Error{fmt::format("Prometheus answered {} without a \"status\" field", http_status)};
  }
  if (*status->string() == "error") {
    const JsonValue* type = doc->find("errorType");
    const JsonValue* error = doc->find("error");
    const std::string type_text =
        type != nullptr && type->string() != nullptr ? *type->string() : std::string("error");
    const std::string error_text =
        error != nullptr && error->string() != nullptr ? *error->string() : std::string();
    return Error{fmt::format("Prometheus answered {} ({}): {}", http_status,
                             printable(type_text, 64), jsonQuoted(printable(error_text, 400)))};
  }
  if (*status->string() != "success" || http_status != 200) {
    return Error{fmt::format("Prometheus answered {} with status {}", http_status,
                             jsonQuoted(printable(*status->string(), 64)))};
  }
  // Each pointer is taken once and checked: -Wnull-dereference cannot follow a second get_if.
  const JsonValue* data = doc->find("data");
  const JsonValue* type = data != nullptr ? data->find("resultType") : nullptr;
  const JsonValue* result = data != nullptr ? data->find("result") : nullptr;
  const std::string* type_name = type != nullptr ? type->string() : nullptr;
  const JsonValue::Array* items = result != nullptr ? result->array() : nullptr;
  if (type_name == nullptr || items == nullptr) {
    return Error{"Prometheus's answer has no data.resultType and data.result"};
  }
  const bool matrix = *type_name == "matrix";
  if (!matrix && *type_name != "vector") {
    return Error{"Prometheus answered a " + printable(*type_name, 32) + ", not a vector or matrix"};
  }

  // A sample is [unix seconds, "value"]; values are strings so that NaN and Inf survive JSON.
  auto readPoint = [](const JsonValue& p) -> std::optional<std::pair<double, double>> {
    const auto* pair = p.array();
    if (pair == nullptr || pair->size() != 2) return std::nullopt;
    const auto t = (*pair)[0].number();
    const std::string* text = (*pair)[1].string();
    if (!t || text == nullptr) return std::nullopt;
    std::string_view v = *text;
    if (!v.empty() && v.front() == '+') v.remove_prefix(1);
    double value = 0;
    const auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), value);
    if (ec != std::errc() || end != v.data() + v.size()) return std::nullopt;
    return std::make_pair(*t, value);
  };

  std::vector<PromSeries> out;
  for (const JsonValue& item : *items) {
    const JsonValue* metric = item.find("metric");
    const JsonValue::Object* labels = metric != nullptr ? metric->object() : nullptr;
    if (labels == nullptr) return Error{"Prometheus's answer has a series without \"metric\""};
    PromSeries series;
    for (const auto& [name, value] : *labels) {
      const std::string* text = value.string();
      if (text == nullptr) return Error{"a label value is not a string: " + printable(name, 64)};
      series.labels.emplace(name, *text);
    }
    std::vector<const JsonValue*> points;
    if (matrix) {
      const JsonValue* values = item.find("values");
      const JsonValue::Array* list = values != nullptr ? values->array() : nullptr;
      if (list == nullptr) return Error{"Prometheus's answer has a series without \"values\""};
      for (const JsonValue& p : *list) points.push_back(&p);
    } else {
      const JsonValue* value = item.find("value");
      if (value == nullptr) return Error{"Prometheus's answer has a sample without \"value\""};
      points.push_back(value);
    }
    for (const JsonValue* p : points) {
      const auto point = readPoint(*p);
      if (!point) return Error{"Prometheus's answer has a sample that is not [time, \"value\"]"};
      // NaN or Inf cannot be a count; such a point says nothing the report could use.
      if (std::isfinite(point->second)) series.points.push_back(*point);
    }
    std::sort(series.points.begin(), series.points.end());
    out.push_back(std::move(series));
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// The queries

seconds fleetStep(seconds window) {
  return seconds(std::max<int64_t>(1, (window.count() + kStepsPerWindow - 1) / kStepsPerWindow));
}

WallTime fleetEvaluationTime(WallTime now, seconds window) {
  const int64_t step_ms = fleetStep(window).count() * 1000;
  const int64_t now_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count();
  return WallTime(std::chrono::milliseconds(now_ms - now_ms % step_ms));
}

FleetQueries fleetQueries(const FleetOptions& o) {
  FleetQueries q;
  q.step = fleetStep(o.window);
  const std::string sel = o.selector.empty() ? std::string() : "{" + o.selector + "}";
  const std::string window = "[" + std::to_string(o.window.count()) + "s]";
  const std::string step = std::to_string(q.step.count()) + "s";
  const std::string& L = o.instance_label;
  const std::string& N = o.node_label;

  // What each series of a counter rose by since the previous step, exactly: no extrapolation
  // as increase() makes, and every rise is counted in one step only. A reset (the instance
  // restarted) counts the value after it; a series new since the previous step counts its
  // whole value (triaged exports its failure counters at 0 from the start, so that is what
  // happened since it appeared).
  auto risen = [&](std::string_view metric) {
    return fmt::format("(({0}{1} - {0}{1} offset {2}) >= 0 or {0}{1} * 1)", metric, sel, step);
  };
  auto part = [&](std::string_view name, std::string_view by, std::string_view metric) {
    return fmt::format("label_replace(sum by ({}) ({}) > 0, \"{}\", \"{}\", \"\", \"\")", by,
                       risen(metric), kPartLabel, name);
  };
  q.increments = part("failures", "upstream, cause", "triaged_failures_total") + " or " +
                 part("retries", "upstream, cause", "triaged_retries_total") + " or " +
                 part("requests", "upstream", "triaged_requests_total");

  // Which instances saw a cause is a yes/no per instance: increase() > 0 is exact for that.
  const std::string failing = "increase(triaged_failures_total" + sel + window + ")";
  q.instances_affected =
      fmt::format("count by (upstream, cause) (sum by (upstream, cause, {}) ({}) > 0)", L, failing);
  q.nodes_affected =
      fmt::format("count by (upstream, cause) (sum by (upstream, cause, {}) ({}) > 0)", N, failing);
  // How many failures the most affected instance had: counted the same exact way as the range
  // query, by a subquery (increase() extrapolates, and doubles a young series' count). Its
  // points are multiples of the step (hence fleetEvaluationTime()); a range half a step short
  // of the window takes the same window - step / step points as the range query, whether the
  // range's start is included (Prometheus 2) or not (3).
  q.top_instance = fmt::format(
      "topk by (upstream, cause) (1, sum by (upstream, cause, {}, {}) "
      "(sum_over_time({}[{}ms:{}])) > 0)",
      L, N, risen("triaged_failures_total"), o.window.count() * 1000 - q.step.count() * 500, step);
  // triaged exports every cause of every configured upstream at 0, so the instances that have a
  // series of an upstream are those that route to it.
  q.instances_per_upstream = fmt::format(
      "count by (upstream) (count by (upstream, {}) (max_over_time(triaged_failures_total{}{})))",
      L, sel, window);
  q.instances_seen =
      fmt::format("count(count by ({}) (max_over_time(triaged_build_info{}{})))", L, sel, window);
  q.versions = fmt::format("count by (version) (triaged_build_info{})", sel);
  // Instances that reported within the window and do not now, with the time of their last
  // sample; and of those, the ones whose target is still scraped and fails.
  q.not_reporting = fmt::format(
      "max by ({0}, {1}) (max_over_time(timestamp(triaged_build_info{2})[{3}s:{4}])) "
      "unless on ({0}) triaged_build_info{2}",
      L, N, sel, o.window.count(), step);
  q.down = fmt::format(
      "count by ({0}) ((up{1} == 0) and on ({0}) max_over_time(triaged_build_info{1}{2}))", L, sel,
      window);
  return q;
}

std::string_view blastRadiusName(BlastRadius radius) {
  switch (radius) {
    case BlastRadius::OneInstance:
      return "one_instance";
    case BlastRadius::OneNode:
      return "one_node";
    case BlastRadius::SomeInstances:
      return "some_instances";
    case BlastRadius::AllInstances:
      return "all_instances";
  }
  return "some_instances";
}

seconds fleetEpisodeGap(seconds step) { return std::max(seconds(60), 2 * step); }

// ---------------------------------------------------------------------------------------------
// The report

FleetReport buildFleetReport(const FleetOptions& options, const FleetAnswers& a, WallTime now) {
  FleetReport r;
  r.generated_at = now;
  r.prometheus = options.prometheus;
  r.selector = options.selector;
  r.window = options.window;
  r.step = fleetStep(options.window);
  r.instance_label = options.instance_label;
  r.node_label = options.node_label;
  const std::string& L = options.instance_label;
  const std::string& N = options.node_label;
  const seconds gap = fleetEpisodeGap(r.step);

  using Key = std::pair<std::string, std::string>;  // (upstream, cause)
  auto keyOf = [](const PromSeries& s) { return Key{labelOf(s, "upstream"), labelOf(s, "cause")}; };

  std::map<Key, FleetCause> rows;
  std::map<Key, uint64_t> retries;
  std::map<std::string, uint64_t> requests;
  for (const auto& s : a.increments) {
    const std::string part = labelOf(s, kPartLabel);
    double total = 0;
    for (const auto& p : s.points) total += std::max(0.0, p.second);
    if (part == "requests") {
      requests[labelOf(s, "upstream")] += toCount(total);
    } else if (part == "retries") {
      retries[keyOf(s)] += toCount(total);
    } else if (part == "failures") {
      FleetCause& row = rows[keyOf(s)];
      row.upstream = labelOf(s, "upstream");
      row.cause = labelOf(s, "cause");
      for (const auto& [t, v] : s.points) {
        if (!(v > 0)) continue;
        const WallTime at = fromUnixSeconds(t);
        if (row.episodes.empty() || at - row.episodes.back().end > gap) {
          row.episodes.push_back(FleetEpisode{at, at, 0, false});
        }
        row.episodes.back().end = at;
        row.episodes.back().failures += toCount(v);
        row.failures += toCount(v);
      }
    }
  }

  auto countsByKey = [&](const std::vector<PromSeries>& series) {
    std::map<Key, uint64_t> out;
    for (const auto& s : series) out[keyOf(s)] = toCount(lastValue(s));
    return out;
  };
  const auto affected = countsByKey(a.instances_affected);
  const auto nodes = countsByKey(a.nodes_affected);
  std::map<std::string, uint64_t> per_upstream;
  for (const auto& s : a.instances_per_upstream) {
    per_upstream[labelOf(s, "upstream")] = toCount(lastValue(s));
  }
  if (!a.instances_seen.empty()) r.instances_total = toCount(lastValue(a.instances_seen.front()));

  for (auto& [key, row] : rows) {
    if (row.failures == 0) continue;
    row.known = diagnose::causeByName(row.cause);
    describeStatus(row.known, row);
    row.rate_per_second = static_cast<double>(row.failures) / static_cast<double>(r.window.count());
    if (const auto it = requests.find(row.upstream); it != requests.end() && it->second > 0) {
      row.share =
          std::min(1.0, static_cast<double>(row.failures) / static_cast<double>(it->second));
    }
    if (const auto it = retries.find(key); it != retries.end()) {
      row.retries = it->second;
      retries.erase(it);
    }
    for (const auto& s : a.top_instance) {
      if (keyOf(s) != key) continue;
      row.top_instance = labelOf(s, L);
      row.top_instance_node = labelOf(s, N);
      row.top_instance_failures = toCount(lastValue(s));
    }
    // A rise the range saw just before the window's first sample can escape increase():
    // whoever failed, at least one instance did.
    const auto found = affected.find(key);
    row.instances_affected = std::max<uint64_t>(1, found == affected.end() ? 0 : found->second);
    const auto node_count = nodes.find(key);
    row.nodes_affected = node_count == nodes.end() ? 0 : node_count->second;
    const auto with = per_upstream.find(row.upstream);
    row.instances_with_upstream = with != per_upstream.end() ? with->second : r.instances_total;
    row.instances_with_upstream = std::max(row.instances_with_upstream, row.instances_affected);

    if (row.instances_affected >= row.instances_with_upstream) {
      row.blast_radius = BlastRadius::AllInstances;
    } else if (row.instances_affected == 1) {
      row.blast_radius = BlastRadius::OneInstance;
    } else if (row.nodes_affected == 1 && !row.top_instance_node.empty()) {
      row.blast_radius = BlastRadius::OneNode;
      row.node = row.top_instance_node;
    } else {
      row.blast_radius = BlastRadius::SomeInstances;
    }
    row.first_seen = row.episodes.front().start;
    row.last_seen = row.episodes.back().end;
    row.episodes.back().ongoing = now - row.last_seen <= gap;
    row.hint = fleetHint(row.cause, row.upstream, row.status_text);
    r.causes.push_back(std::move(row));
  }
  std::sort(r.causes.begin(), r.causes.end(), [](const FleetCause& x, const FleetCause& y) {
    return std::tie(y.failures, y.last_seen, x.upstream, x.cause) <
           std::tie(x.failures, x.last_seen, y.upstream, y.cause);
  });

  for (const auto& [key, n] : retries) {
    if (n > 0) r.absorbed.push_back(FleetAbsorbed{key.first, key.second, n});
  }
  std::stable_sort(
      r.absorbed.begin(), r.absorbed.end(),
      [](const FleetAbsorbed& x, const FleetAbsorbed& y) { return x.retries > y.retries; });

  std::set<std::string> failing_scrapes;
  for (const auto& s : a.down) failing_scrapes.insert(labelOf(s, L));
  for (const auto& s : a.not_reporting) {
    FleetInstanceDown d;
    d.instance = labelOf(s, L);
    d.node = labelOf(s, N);
    d.scrape_failing = failing_scrapes.count(d.instance) > 0;
    if (const double t = lastValue(s); t > 0) d.last_seen = fromUnixSeconds(t);
    r.instances_down.push_back(std::move(d));
  }
  std::sort(r.instances_down.begin(), r.instances_down.end(),
            [](const FleetInstanceDown& x, const FleetInstanceDown& y) {
              return std::tie(x.node, x.instance) < std::tie(y.node, y.instance);
            });
  r.instances_total = std::max<uint64_t>(r.instances_total, r.instances_down.size());
  r.instances_reporting = r.instances_total - r.instances_down.size();

  for (const auto& s : a.versions) {
    r.versions.push_back(FleetVersion{labelOf(s, "version"), toCount(lastValue(s))});
  }
  std::sort(r.versions.begin(), r.versions.end(), [](const FleetVersion& x, const FleetVersion& y) {
    return std::tie(y.instances, x.version) < std::tie(x.instances, y.version);
  });
  return r;
}

std::string fleetHint(std::string_view cause, std::string_view upstream,
                      std::string_view status_text) {
  const diagnose::HintText* text = config::defaultHintCatalog().find(cause);
  if (text == nullptr || text->en.empty()) return {};
  return hintFirstStep(text->en, upstream, cause, status_text);
}

std::string hintFirstStep(std::string_view hint_template, std::string_view upstream,
                          std::string_view cause, std::string_view status_text) {
  // The texts go: the status and what the proxy saw; what to investigate ("Check ..."); how to
  // handle it. Without a "check", the sentence after the status one is the investigation.
  const auto all = sentences(hint_template);
  std::string_view chosen = hint_template;
  if (!all.empty()) chosen = all.size() > 1 ? all[1] : all[0];
  for (const auto s : all) {
    if (mentionsCheck(s)) {
      chosen = s;
      break;
    }
  }
  FleetFields fields{{"upstream", std::string(upstream)},
                     {"cause", std::string(cause)},
                     {"status", std::string(status_text)}};
  const std::string step = dropUnknownParentheses(chosen, fields);
  for (const auto& name : diagnose::templatePlaceholders(step)) {
    if (fields.find(name) == fields.end()) fields.emplace(name, "<" + name + ">");
  }
  return diagnose::renderTemplate(step, [&fields](std::string_view name) -> const std::string* {
    const auto it = fields.find(name);
    return it == fields.end() ? nullptr : &it->second;
  });
}

// ---------------------------------------------------------------------------------------------
// JSON

std::string fleetReportJson(const FleetReport& r) {
  std::string out = "{\n";
  out += fmt::format(
      "  \"generated_at\": {},\n  \"prometheus\": {},\n  \"selector\": {},\n"
      "  \"window_seconds\": {},\n  \"step_seconds\": {},\n  \"instance_label\": {},\n"
      "  \"node_label\": {},\n  \"instances_total\": {},\n  \"instances_reporting\": {},\n",
      jsonQuoted(iso(r.generated_at)), jsonQuoted(r.prometheus),
      jsonQuoted(selectorText(r.selector)), r.window.count(), r.step.count(),
      jsonQuoted(r.instance_label), jsonQuoted(r.node_label), r.instances_total,
      r.instances_reporting);

  out += "  \"instances_down\": [";
  for (size_t i = 0; i < r.instances_down.size(); ++i) {
    const auto& d = r.instances_down[i];
    out += i == 0 ? "\n" : ",\n";
    out += fmt::format("    {{\"instance\": {}, \"node\": {}, \"reason\": {}, \"last_seen\": {}}}",
                       jsonQuoted(d.instance), d.node.empty() ? "null" : jsonQuoted(d.node),
                       jsonQuoted(d.scrape_failing ? "scrape_failing" : "no_longer_scraped"),
                       d.last_seen ? jsonQuoted(iso(*d.last_seen)) : "null");
  }
  out += r.instances_down.empty() ? "],\n" : "\n  ],\n";

  out += "  \"causes\": [";
  for (size_t i = 0; i < r.causes.size(); ++i) {
    const auto& c = r.causes[i];
    out += i == 0 ? "\n" : ",\n";
    std::string episodes;
    for (size_t e = 0; e < c.episodes.size(); ++e) {
      const auto& ep = c.episodes[e];
      episodes += fmt::format("{}{{\"start\": {}, \"end\": {}, \"failures\": {}, \"ongoing\": {}}}",
                              e == 0 ? "" : ", ", jsonQuoted(iso(ep.start)),
                              jsonQuoted(iso(ep.end)), ep.failures, ep.ongoing ? "true" : "false");
    }
    out += fmt::format(
        "    {{\"upstream\": {}, \"cause\": {}, \"class\": {}, \"status\": {}, "
        "\"status_text\": {}, \"failures\": {}, \"rate_per_second\": {}, "
        "\"share_of_requests\": {}, \"retries\": {}, \"instances_affected\": {}, "
        "\"instances_with_upstream\": {}, \"nodes_affected\": {}, \"blast_radius\": {}, "
        "\"node\": {}, \"top_instance\": {{\"instance\": {}, \"node\": {}, \"failures\": {}}}, "
        "\"first_seen\": {}, \"last_seen\": {}, \"episodes\": [{}], \"hint\": {}}}",
        jsonQuoted(c.upstream), jsonQuoted(c.cause),
        c.known ? jsonQuoted(diagnose::causeInfo(*c.known).cause_class) : "null",
        c.status ? std::to_string(*c.status) : "null", jsonQuoted(c.status_text), c.failures,
        jsonNumber(c.rate_per_second), c.share ? jsonNumber(*c.share) : "null", c.retries,
        c.instances_affected, c.instances_with_upstream, c.nodes_affected,
        jsonQuoted(blastRadiusName(c.blast_radius)), c.node.empty() ? "null" : jsonQuoted(c.node),
        jsonQuoted(c.top_instance),
        c.top_instance_node.empty() ? "null" : jsonQuoted(c.top_instance_node),
        c.top_instance_failures, jsonQuoted(iso(c.first_seen)), jsonQuoted(iso(c.last_seen)),
        episodes, jsonQuoted(c.hint));
  }
  out += r.causes.empty() ? "],\n" : "\n  ],\n";

  out += "  \"absorbed_by_retries\": [";
  for (size_t i = 0; i < r.absorbed.size(); ++i) {
    const auto& x = r.absorbed[i];
    out += fmt::format("{}\n    {{\"upstream\": {}, \"cause\": {}, \"retries\": {}}}",
                       i == 0 ? "" : ",", jsonQuoted(x.upstream), jsonQuoted(x.cause), x.retries);
  }
  out += r.absorbed.empty() ? "],\n" : "\n  ],\n";

  out += "  \"versions\": [";
  for (size_t i = 0; i < r.versions.size(); ++i) {
    out += fmt::format("{}{{\"version\": {}, \"instances\": {}}}", i == 0 ? "" : ", ",
                       jsonQuoted(r.versions[i].version), r.versions[i].instances);
  }
  out += fmt::format("],\n  \"version_skew\": {}\n}}\n", r.versions.size() > 1 ? "true" : "false");
  return out;
}

// ---------------------------------------------------------------------------------------------
// Text

std::string fleetReportText(const FleetReport& r, bool colour) {
  const std::string window = formatPromDuration(r.window);
  std::string out = paint(fmt::format("triaged fleet report, {} (last {}, times UTC)",
                                      iso(r.generated_at), window),
                          kBold, colour) +
                    "\n";
  out += fmt::format("Prometheus {}, selector {}: {} instance{} reported in the window, {} now\n",
                     shown(r.prometheus), shown(selectorText(r.selector)), r.instances_total,
                     r.instances_total == 1 ? "" : "s", r.instances_reporting);

  if (r.causes.empty()) {
    out += fmt::format("\nNo failures in the last {} across {} instance{}.\n", window,
                       r.instances_total, r.instances_total == 1 ? "" : "s");
  } else {
    std::vector<std::vector<std::string>> rows{{"UPSTREAM", "CAUSE", "STATUS", "FAILURES", "RATE/s",
                                                "SHARE", "INSTANCES", "FIRST", "LAST",
                                                "BLAST RADIUS"}};
    for (const auto& c : r.causes) {
      rows.push_back({shown(c.upstream), shown(c.cause), c.status_text, std::to_string(c.failures),
                      rateText(c.rate_per_second),
                      c.share ? fmt::format("{:.1f}%", *c.share * 100) : "-",
                      fmt::format("{}/{}", c.instances_affected, c.instances_with_upstream),
                      shortTime(c.first_seen, r.window), shortTime(c.last_seen, r.window),
                      blastRadiusText(c)});
    }
    const auto lines =
        tableLines(rows, {false, false, true, true, true, true, true, false, false, false});
    out += "\n" + paint(lines[0], kBold, colour) + "\n";
    for (size_t i = 1; i < lines.size(); ++i) {
      const auto& c = r.causes[i - 1];
      const char* tint = c.known ? causeColour(diagnose::causeInfo(*c.known)) : kRed;
      out += paint(lines[i], tint, colour) + "\n";
    }

    out += "\n" + paint("First step per cause (from its hint):", kBold, colour) + "\n";
    for (const auto& c : r.causes) {
      if (c.hint.empty()) continue;
      out += fmt::format("  {} / {}: {}\n", shown(c.upstream), c.cause, c.hint);
    }

    out += "\n" + paint("Episodes (when the fleet's counter rose):", kBold, colour) + "\n";
    for (const auto& c : r.causes) {
      for (const auto& e : c.episodes) {
        const std::string when = e.start == e.end
                                     ? "at " + shortTime(e.start, r.window)
                                     : fmt::format("from {} to {}", shortTime(e.start, r.window),
                                                   shortTime(e.end, r.window));
        out += fmt::format("  {} / {} {} ({} failure{}){}\n", shown(c.upstream), shown(c.cause),
                           when, e.failures, e.failures == 1 ? "" : "s",
                           e.ongoing ? ", still rising" : ", then no more");
      }
    }
  }

  if (!r.absorbed.empty()) {
    out += "\n" + paint("Absorbed by retries (no client saw them):", kBold, colour) + "\n";
    for (const auto& x : r.absorbed) {
      out += fmt::format("  {} / {}: {} retr{}\n", shown(x.upstream), shown(x.cause), x.retries,
                         x.retries == 1 ? "y" : "ies");
    }
  }

  if (!r.instances_down.empty()) {
    out +=
        "\n" +
        paint(fmt::format("Not reporting ({} of {}):", r.instances_down.size(), r.instances_total),
              kBold, colour) +
        "\n";
    for (const auto& d : r.instances_down) {
      const std::string where = d.node.empty() ? "" : " on " + shown(d.node);
      const std::string last =
          d.last_seen ? ", last sample " + shortTime(*d.last_seen, r.window) : std::string();
      const std::string why = d.scrape_failing ? "scrape failing (up == 0)"
                                               : "no longer scraped (removed from discovery?)";
      out += paint(fmt::format("  {}{}: {}{}", shown(d.instance), where, why, last), kRed, colour) +
             "\n";
    }
  }

  std::string versions;
  for (const auto& v : r.versions) {
    versions +=
        fmt::format("{}{} on {}", versions.empty() ? "" : ", ", shown(v.version), v.instances);
  }
  if (!versions.empty()) {
    const bool skew = r.versions.size() > 1;
    out += "\n" +
           paint(fmt::format("Versions: {}{}", versions, skew ? " (version skew)" : ""),
                 skew ? kYellow : nullptr, colour) +
           "\n";
  }
  return out;
}

}  // namespace triaged::admin
