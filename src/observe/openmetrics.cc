#include "triaged/observe/openmetrics.h"

#include <spdlog/fmt/fmt.h>

#include <cmath>
#include <string_view>

namespace triaged::observe {
namespace {

using prometheus::ClientMetric;
using prometheus::MetricFamily;
using prometheus::MetricType;

bool endsWith(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

// Label values and help texts escape backslash, double quote and newline.
void escaped(std::string& out, std::string_view text, bool quote) {
  for (const char c : text) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '"' && quote) {
      out += "\\\"";
    } else {
      out.push_back(c);
    }
  }
}

void number(std::string& out, double v) {
  if (std::isnan(v)) {
    out += "NaN";
  } else if (std::isinf(v)) {
    out += v > 0 ? "+Inf" : "-Inf";
  } else if (v == std::floor(v) && std::fabs(v) < 1e15) {
    out += fmt::format("{}", static_cast<int64_t>(v));
  } else {
    out += fmt::format("{}", v);
  }
}

void labels(std::string& out, const std::vector<ClientMetric::Label>& ls,
            const ClientMetric::Label* extra = nullptr) {
  if (ls.empty() && extra == nullptr) return;
  out.push_back('{');
  bool first = true;
  const auto one = [&](const ClientMetric::Label& l) {
    if (!first) out.push_back(',');
    first = false;
    out += l.name;
    out += "=\"";
    escaped(out, l.value, true);
    out.push_back('"');
  };
  for (const auto& l : ls) one(l);
  if (extra != nullptr) one(*extra);
  out.push_back('}');
}

void writeSample(std::string& out, std::string_view name,
                 const std::vector<ClientMetric::Label>& ls, double value,
                 const ClientMetric::Label* extra = nullptr) {
  out += name;
  labels(out, ls, extra);
  out.push_back(' ');
  number(out, value);
}

void exemplar(std::string& out, const Exemplar& e) {
  out += " # ";
  labels(out, e.labels);
  if (e.labels.empty()) out += "{}";
  out.push_back(' ');
  number(out, e.value);
  const auto ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(e.at.time_since_epoch()).count();
  if (ms > 0) out += fmt::format(" {}.{:03}", ms / 1000, ms % 1000);
}

std::string_view typeName(MetricType t) {
  switch (t) {
    case MetricType::Counter:
      return "counter";
    case MetricType::Gauge:
      return "gauge";
    case MetricType::Summary:
      return "summary";
    case MetricType::Histogram:
      return "histogram";
    case MetricType::Untyped:
      return "unknown";
  }
  return "unknown";
}

}  // namespace

std::string toOpenMetrics(const std::vector<MetricFamily>& families,
                          const ExemplarLookup& exemplars) {
  std::string out;
  out.reserve(16 * 1024);
  for (const auto& f : families) {
    std::string_view base = f.name;
    std::string_view type = typeName(f.type);
    // OpenMetrics names a counter family without its _total, which only its samples carry; a
    // constant-1 *_info gauge is what the info type is for.
    if (f.type == MetricType::Counter && endsWith(base, "_total")) {
      base.remove_suffix(6);
    }
    const bool info = f.type == MetricType::Gauge && endsWith(base, "_info");
    if (info) {
      base.remove_suffix(5);
      type = "info";
    }
    out += fmt::format("# TYPE {} {}\n", base, type);
    if (!f.help.empty()) {
      out += fmt::format("# HELP {} ", base);
      escaped(out, f.help, false);
      out.push_back('\n');
    }
    for (const auto& m : f.metric) {
      switch (f.type) {
        case MetricType::Counter: {
          const std::string name = std::string(base) + "_total";
          writeSample(out, name, m.label, m.counter.value);
          if (exemplars) {
            if (const auto e = exemplars(f.name, m.label)) exemplar(out, *e);
          }
          out.push_back('\n');
          break;
        }
        case MetricType::Gauge:
          writeSample(out, info ? std::string(base) + "_info" : std::string(base), m.label,
                      m.gauge.value);
          out.push_back('\n');
          break;
        case MetricType::Untyped:
          writeSample(out, base, m.label, m.untyped.value);
          out.push_back('\n');
          break;
        case MetricType::Histogram: {
          const std::string bucket = std::string(base) + "_bucket";
          for (const auto& b : m.histogram.bucket) {
            std::string le;
            number(le, b.upper_bound);
            const ClientMetric::Label l{"le", le};
            writeSample(out, bucket, m.label, static_cast<double>(b.cumulative_count), &l);
            out.push_back('\n');
          }
          writeSample(out, std::string(base) + "_count", m.label,
                      static_cast<double>(m.histogram.sample_count));
          out.push_back('\n');
          writeSample(out, std::string(base) + "_sum", m.label, m.histogram.sample_sum);
          out.push_back('\n');
          break;
        }
        case MetricType::Summary: {
          for (const auto& q : m.summary.quantile) {
            std::string quantile;
            number(quantile, q.quantile);
            const ClientMetric::Label l{"quantile", quantile};
            writeSample(out, base, m.label, q.value, &l);
            out.push_back('\n');
          }
          writeSample(out, std::string(base) + "_count", m.label,
                      static_cast<double>(m.summary.sample_count));
          out.push_back('\n');
          writeSample(out, std::string(base) + "_sum", m.label, m.summary.sample_sum);
          out.push_back('\n');
          break;
        }
      }
    }
  }
  out += "# EOF\n";
  return out;
}

bool acceptsOpenMetrics(std::string_view accept) {
  // The first media range that names either format decides: Prometheus lists OpenMetrics first
  // with the higher q, and a client that asks for text/plain first gets text.
  const size_t om = accept.find("application/openmetrics-text");
  if (om == std::string_view::npos) return false;
  const size_t text = accept.find("text/plain");
  return text == std::string_view::npos || om < text;
}

}  // namespace triaged::observe
