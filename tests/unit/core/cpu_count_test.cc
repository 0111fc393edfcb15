#include "triaged/core/cpu_count.h"

#include <sched.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

namespace triaged {
namespace {

namespace fs = std::filesystem;

uint32_t affinity() {
  cpu_set_t set;
  CPU_ZERO(&set);
  REQUIRE(sched_getaffinity(0, sizeof(set), &set) == 0);
  return static_cast<uint32_t>(CPU_COUNT(&set));
}

// A fake /sys/fs/cgroup and /proc/self/cgroup in a temporary directory.
struct FakeCgroup {
  FakeCgroup() {
    std::string tmpl = (fs::temp_directory_path() / "triaged-cgroup-XXXXXX").string();
    REQUIRE(mkdtemp(tmpl.data()) != nullptr);
    dir = tmpl;
  }
  ~FakeCgroup() { fs::remove_all(dir); }
  void file(const std::string& rel, const std::string& text) const {
    fs::create_directories((dir / rel).parent_path());
    std::ofstream(dir / rel) << text;
  }
  std::string root() const { return (dir / "sys").string(); }
  std::string self() const { return (dir / "self_cgroup").string(); }
  fs::path dir;
};

}  // namespace

TEST_CASE("cgroup v2 cpu.max", "[unit][core]") {
  CHECK(!cpuQuotaV2("max 100000\n"));
  CHECK(cpuQuotaV2("150000 100000\n") == Approx(1.5));
  CHECK(cpuQuotaV2("50000 100000") == Approx(0.5));
  CHECK(!cpuQuotaV2(""));
  CHECK(!cpuQuotaV2("garbage"));
  CHECK(!cpuQuotaV2("0 100000"));
}

TEST_CASE("cgroup v1 cfs quota and period", "[unit][core]") {
  CHECK(!cpuQuotaV1("-1\n", "100000\n"));
  CHECK(cpuQuotaV1("200000\n", "100000\n") == Approx(2.0));
  CHECK(cpuQuotaV1("25000", "100000") == Approx(0.25));
  CHECK(!cpuQuotaV1("x", "100000"));
  CHECK(!cpuQuotaV1("1000", "0"));
}

TEST_CASE("cpusFor: the affinity mask capped by the quota rounded up, at least 1", "[unit][core]") {
  CHECK(cpusFor(64, std::nullopt) == 64);
  CHECK(cpusFor(64, 0.5) == 1);  // a 500m sidecar: one worker, not 64
  CHECK(cpusFor(64, 1.5) == 2);
  CHECK(cpusFor(64, 2.0) == 2);
  CHECK(cpusFor(2, 8.0) == 2);  // a quota above the mask does not add CPUs
  CHECK(cpusFor(0, std::nullopt) == 1);
}

TEST_CASE("availableCpus reads a v2 cgroup's cpu.max", "[unit][core]") {
  FakeCgroup cg;
  cg.file("self_cgroup", "0::/kubepods/pod1/ctr\n");
  cg.file("sys/kubepods/pod1/ctr/cpu.max", "50000 100000\n");
  CHECK(availableCpus(cg.root(), cg.self()) == 1);
}

TEST_CASE("availableCpus falls back to the cgroup root a container sees", "[unit][core]") {
  FakeCgroup cg;
  cg.file("self_cgroup", "0::/\n");
  cg.file("sys/cpu.max", "max 100000\n");
  CHECK(availableCpus(cg.root(), cg.self()) == affinity());  // no quota: the mask
}

TEST_CASE("availableCpus reads a v1 cpu,cpuacct hierarchy", "[unit][core]") {
  FakeCgroup cg;
  cg.file("self_cgroup", "5:memory:/x\n4:cpu,cpuacct:/docker/abc\n0::/\n");
  cg.file("sys/cpu,cpuacct/docker/abc/cpu.cfs_quota_us", "100000\n");
  cg.file("sys/cpu,cpuacct/docker/abc/cpu.cfs_period_us", "100000\n");
  CHECK(availableCpus(cg.root(), cg.self()) == 1);
}

TEST_CASE("availableCpus without any cgroup files is the affinity mask", "[unit][core]") {
  FakeCgroup cg;
  CHECK(availableCpus(cg.root(), cg.self()) == affinity());
}

}  // namespace triaged
