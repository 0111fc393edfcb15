#include "triaged/observe/process_metrics.h"

#include <dirent.h>
#include <sys/resource.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <string>

namespace triaged::observe {
namespace {

// Whole file, or "" when it cannot be read.
std::string readFile(const char* path) {
  std::ifstream in(path);
  if (!in) return {};
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

double clockTicksPerSecond() {
  const long ticks = sysconf(_SC_CLK_TCK);
  return ticks > 0 ? static_cast<double>(ticks) : -1;
}

// /proc/self/stat: the comm field (2) is in parentheses and may itself contain ')' or spaces,
// so fields are counted from after the last ')'. Field 3 (state) is index 0 there.
struct StatFields {
  double utime = -1;      // field 14, ticks
  double stime = -1;      // field 15, ticks
  double starttime = -1;  // field 22, ticks since boot
  double vsize = -1;      // field 23, bytes
};

StatFields readSelfStat() {
  StatFields fields;
  const std::string text = readFile("/proc/self/stat");
  const auto close = text.rfind(')');
  if (close == std::string::npos) return fields;
  std::istringstream in(text.substr(close + 1));
  std::string token;
  for (int index = 0; in >> token && index <= 20; ++index) {
    double* target = nullptr;
    switch (index) {
      case 11:
        target = &fields.utime;
        break;
      case 12:
        target = &fields.stime;
        break;
      case 19:
        target = &fields.starttime;
        break;
      case 20:
        target = &fields.vsize;
        break;
      default:
        break;
    }
    if (target == nullptr) continue;
    try {
      *target = static_cast<double>(std::stoull(token));
    } catch (...) {
      *target = -1;
    }
  }
  return fields;
}

double readBootTime() {
  std::istringstream in(readFile("/proc/stat"));
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("btime ", 0) != 0) continue;
    try {
      return static_cast<double>(std::stoull(line.substr(6)));
    } catch (...) {
      return -1;
    }
  }
  return -1;
}

double readResidentBytes() {
  std::istringstream in(readFile("/proc/self/statm"));
  unsigned long long size_pages = 0;
  unsigned long long resident_pages = 0;
  if (!(in >> size_pages >> resident_pages)) return -1;
  const long page_size = sysconf(_SC_PAGESIZE);
  if (page_size <= 0) return -1;
  return static_cast<double>(resident_pages) * static_cast<double>(page_size);
}

double countOpenFds() {
  DIR* dir = opendir("/proc/self/fd");
  if (dir == nullptr) return -1;
  long count = 0;
  while (const dirent* entry = readdir(dir)) {
    if (entry->d_name[0] != '.') ++count;  // skip "." and ".."
  }
  closedir(dir);
  return static_cast<double>(count - 1);  // the descriptor opendir itself held
}

double readMaxFds() {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0) return -1;
  return static_cast<double>(limit.rlim_cur);
}

prometheus::MetricFamily family(const char* name, const char* help, prometheus::MetricType type,
                                double value) {
  prometheus::ClientMetric metric;
  if (type == prometheus::MetricType::Counter) {
    metric.counter.value = value;
  } else {
    metric.gauge.value = value;
  }
  return prometheus::MetricFamily{name, help, type, {metric}};
}

}  // namespace

ProcessStats readProcessStats() {
  ProcessStats stats;
  try {
    const double ticks = clockTicksPerSecond();
    const StatFields fields = readSelfStat();
    if (ticks > 0 && fields.utime >= 0 && fields.stime >= 0) {
      stats.cpu_seconds = (fields.utime + fields.stime) / ticks;
    }
    stats.virtual_bytes = fields.vsize;
    const double boot = readBootTime();
    if (ticks > 0 && boot >= 0 && fields.starttime >= 0) {
      stats.start_time_seconds = boot + fields.starttime / ticks;
    }
    stats.resident_bytes = readResidentBytes();
    stats.open_fds = countOpenFds();
    stats.max_fds = readMaxFds();
  } catch (...) {
    // Out of memory while reading /proc: report what was read so far.
  }
  return stats;
}

std::vector<prometheus::MetricFamily> processMetricFamilies(const ProcessStats& stats) {
  using prometheus::MetricType;
  struct Spec {
    const char* name;
    const char* help;
    MetricType type;
    double value;
  };
  const Spec specs[] = {
      {"process_cpu_seconds_total", "Total user and system CPU time spent in seconds.",
       MetricType::Counter, stats.cpu_seconds},
      {"process_resident_memory_bytes", "Resident memory size in bytes.", MetricType::Gauge,
       stats.resident_bytes},
      {"process_virtual_memory_bytes", "Virtual memory size in bytes.", MetricType::Gauge,
       stats.virtual_bytes},
      {"process_open_fds", "Number of open file descriptors.", MetricType::Gauge, stats.open_fds},
      {"process_max_fds", "Maximum number of open file descriptors.", MetricType::Gauge,
       stats.max_fds},
      {"process_start_time_seconds", "Start time of the process since unix epoch in seconds.",
       MetricType::Gauge, stats.start_time_seconds},
  };
  std::vector<prometheus::MetricFamily> families;
  for (const Spec& spec : specs) {
    if (spec.value < 0) continue;  // -1: could not be read
    families.push_back(family(spec.name, spec.help, spec.type, spec.value));
  }
  return families;
}

}  // namespace triaged::observe
