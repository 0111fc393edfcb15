#pragma once

// How many CPUs this process may really use, for `workers = 0`. Counting the machine's CPUs
// (std::thread::hardware_concurrency) is wrong in the places triaged runs: a sidecar with a 500m
// CPU limit on a 64-core node would start 64 workers that the kernel then throttles. So:
//   the CPUs of the affinity mask (taskset, cpuset), capped by the CFS quota of the process's
//   cgroup rounded up (a Kubernetes CPU limit: cpu.max in cgroup v2, cpu.cfs_quota_us and
//   cpu.cfs_period_us in v1), and at least 1.
// The same rule as nginx's `worker_processes auto` plus the quota that Go's automaxprocs and the
// JVM honour.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace triaged {

// Reads the affinity mask and the cgroup files (under `cgroup_root`, for the cgroup named in
// `proc_self_cgroup`). The defaults are the real ones; tests point them at a fake tree.
uint32_t availableCpus(const std::string& cgroup_root = "/sys/fs/cgroup",
                       const std::string& proc_self_cgroup = "/proc/self/cgroup");

// The pure parts.
// cgroup v2 cpu.max: "max 100000" -> no quota; "150000 100000" -> 1.5 CPUs.
std::optional<double> cpuQuotaV2(std::string_view cpu_max);
// cgroup v1: quota "-1" -> no quota; "50000" over period "100000" -> 0.5 CPUs.
std::optional<double> cpuQuotaV1(std::string_view quota_us, std::string_view period_us);
// min(affinity, ceil(quota)), at least 1.
uint32_t cpusFor(uint32_t affinity_cpus, std::optional<double> quota);

}  // namespace triaged
