#pragma once

// The standard Prometheus process_* metrics for the current process, read from /proc (Linux).
// Read on demand when /metrics is scraped; nothing is cached.

#include <prometheus/metric_family.h>

#include <vector>

namespace triaged::observe {

struct ProcessStats {
  double cpu_seconds = -1;         // user + system CPU time
  double resident_bytes = -1;      // resident set size
  double virtual_bytes = -1;       // virtual memory size
  double open_fds = -1;            // open file descriptors
  double max_fds = -1;             // soft RLIMIT_NOFILE
  double start_time_seconds = -1;  // unix time the process started
};

// Never throws; a field that cannot be read is -1.
ProcessStats readProcessStats();

// process_cpu_seconds_total (counter), process_resident_memory_bytes,
// process_virtual_memory_bytes, process_open_fds, process_max_fds and
// process_start_time_seconds (gauges). A family whose value is -1 is left out.
std::vector<prometheus::MetricFamily> processMetricFamilies(const ProcessStats& stats);

}  // namespace triaged::observe
