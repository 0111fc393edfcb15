#include "triaged/core/cpu_count.h"

#include <sched.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <fstream>
#include <sstream>
#include <thread>
#include <vector>

namespace triaged {
namespace {

std::optional<int64_t> parseInt(std::string_view s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.remove_suffix(1);
  while (!s.empty() && s.front() == ' ') s.remove_prefix(1);
  int64_t v = 0;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size()) return std::nullopt;
  return v;
}

std::optional<std::string> readFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) return std::nullopt;
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

uint32_t affinityCpus() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof(set), &set) == 0) {
    const int n = CPU_COUNT(&set);
    if (n > 0) return static_cast<uint32_t>(n);
  }
  // hardware_concurrency() may report 0 when it cannot tell.
  return std::max(1U, std::thread::hardware_concurrency());
}

// The cgroup paths of /proc/self/cgroup: v2's ("0::/path") and v1's cpu controller's
// ("4:cpu,cpuacct:/path").
struct CgroupPaths {
  std::optional<std::string> v2;
  std::optional<std::string> v1_cpu;
  std::string v1_mount = "cpu";  // the controller list as mounted: "cpu" or "cpu,cpuacct"
};

CgroupPaths cgroupPaths(const std::string& proc_self_cgroup) {
  CgroupPaths out;
  std::istringstream in(readFile(proc_self_cgroup).value_or(""));
  std::string line;
  while (std::getline(in, line)) {
    const size_t a = line.find(':');
    const size_t b = a == std::string::npos ? a : line.find(':', a + 1);
    if (b == std::string::npos) continue;
    const std::string controllers = line.substr(a + 1, b - a - 1);
    const std::string path = line.substr(b + 1);
    if (controllers.empty()) {
      out.v2 = path;
      continue;
    }
    std::istringstream list(controllers);
    std::string c;
    while (std::getline(list, c, ',')) {
      if (c == "cpu") {
        out.v1_cpu = path;
        out.v1_mount = controllers;
      }
    }
  }
  return out;
}

// The quota of the first of `dirs` that has the files: the cgroup's own directory, then the root
// of the mount (a container usually sees its own cgroup as the root).
std::optional<double> quotaIn(const std::vector<std::string>& dirs, bool v2) {
  for (const auto& dir : dirs) {
    if (v2) {
      if (auto text = readFile(dir + "/cpu.max")) return cpuQuotaV2(*text);
    } else {
      auto quota = readFile(dir + "/cpu.cfs_quota_us");
      auto period = readFile(dir + "/cpu.cfs_period_us");
      if (quota && period) return cpuQuotaV1(*quota, *period);
    }
  }
  return std::nullopt;
}

}  // namespace

std::optional<double> cpuQuotaV2(std::string_view cpu_max) {
  const size_t space = cpu_max.find(' ');
  if (space == std::string_view::npos) return std::nullopt;
  const std::string_view quota = cpu_max.substr(0, space);
  if (quota == "max") return std::nullopt;
  const auto q = parseInt(quota);
  const auto p = parseInt(cpu_max.substr(space + 1));
  if (!q || !p || *q <= 0 || *p <= 0) return std::nullopt;
  return static_cast<double>(*q) / static_cast<double>(*p);
}

std::optional<double> cpuQuotaV1(std::string_view quota_us, std::string_view period_us) {
  const auto q = parseInt(quota_us);
  const auto p = parseInt(period_us);
  if (!q || !p || *q <= 0 || *p <= 0) return std::nullopt;  // -1: no quota
  return static_cast<double>(*q) / static_cast<double>(*p);
}

uint32_t cpusFor(uint32_t affinity_cpus, std::optional<double> quota) {
  uint32_t n = std::max(1U, affinity_cpus);
  if (quota && *quota > 0) {
    const double up = std::ceil(*quota - 1e-9);  // 2.0000000001 from rounding is still 2
    n = std::min(n, static_cast<uint32_t>(std::max(1.0, up)));
  }
  return n;
}

uint32_t availableCpus(const std::string& cgroup_root, const std::string& proc_self_cgroup) {
  const CgroupPaths paths = cgroupPaths(proc_self_cgroup);
  std::optional<double> quota;
  if (paths.v2) quota = quotaIn({cgroup_root + *paths.v2, cgroup_root}, /*v2=*/true);
  if (!quota && paths.v1_cpu) {
    const std::string mount = cgroup_root + "/" + paths.v1_mount;
    quota = quotaIn(
        {mount + *paths.v1_cpu, mount, cgroup_root + "/cpu" + *paths.v1_cpu, cgroup_root + "/cpu"},
        /*v2=*/false);
  }
  return cpusFor(affinityCpus(), quota);
}

}  // namespace triaged
