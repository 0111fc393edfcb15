#include "triaged/observe/process_metrics.h"

#include <fcntl.h>
#include <prometheus/text_serializer.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <string>
#include <vector>

namespace triaged::observe {
namespace {

double nowUnixSeconds() {
  using namespace std::chrono;
  return duration<double>(system_clock::now().time_since_epoch()).count();
}

TEST_CASE("process stats read from /proc are plausible", "[unit][process_metrics]") {
  const ProcessStats s = readProcessStats();
  CHECK(s.cpu_seconds >= 0);
  CHECK(s.resident_bytes > 1024.0 * 1024.0);
  CHECK(s.virtual_bytes >= s.resident_bytes);
  CHECK(s.open_fds >= 3);
  CHECK(s.max_fds >= s.open_fds);
  const double now = nowUnixSeconds();
  // btime is whole seconds, so allow a little slack into the future.
  CHECK(s.start_time_seconds <= now + 2);
  CHECK(s.start_time_seconds > now - 3600);
}

TEST_CASE("opening descriptors raises open_fds by as many", "[unit][process_metrics]") {
  const double before = readProcessStats().open_fds;
  std::vector<int> fds;
  for (int i = 0; i < 10; ++i) {
    const int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    REQUIRE(fd >= 0);
    fds.push_back(fd);
  }
  const double during = readProcessStats().open_fds;
  for (const int fd : fds) close(fd);
  CHECK(during - before == 10);
  CHECK(readProcessStats().open_fds == before);
}

TEST_CASE("process families serialize with their types", "[unit][process_metrics]") {
  const std::string text =
      prometheus::TextSerializer().Serialize(processMetricFamilies(readProcessStats()));
  CHECK_THAT(text, Catch::Contains("# TYPE process_cpu_seconds_total counter"));
  for (const char* gauge : {"process_resident_memory_bytes", "process_virtual_memory_bytes",
                            "process_open_fds", "process_max_fds", "process_start_time_seconds"}) {
    CHECK_THAT(text, Catch::Contains(std::string("# TYPE ") + gauge + " gauge"));
    CHECK_THAT(text, Catch::Contains(std::string("# HELP ") + gauge + " "));
  }
}

TEST_CASE("families whose value could not be read are left out", "[unit][process_metrics]") {
  ProcessStats s;  // every field -1
  CHECK(processMetricFamilies(s).empty());
  s.open_fds = 7;
  const auto families = processMetricFamilies(s);
  REQUIRE(families.size() == 1);
  CHECK(families[0].name == "process_open_fds");
  CHECK(families[0].type == prometheus::MetricType::Gauge);
  REQUIRE(families[0].metric.size() == 1);
  CHECK(families[0].metric[0].gauge.value == 7);
}

}  // namespace
}  // namespace triaged::observe
