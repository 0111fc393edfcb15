#pragma once

// Reading triaged's /metrics exposition in tests: one sample by its exact series text, the sum
// of a whole family, and MetricsDelta, which scrapes before and after an action and answers by
// how much a series (or a family) moved in between.

#include <chrono>
#include <cstdint>
#include <string>

#include "harness/http_client.h"

namespace triaged::test {

class DaemonProcess;

// The value of the sample whose line starts with `series` ("name{labels}" exactly as exposed,
// labels in exposition order), or 0 when absent.
double sample(const std::string& scrape, const std::string& series);

// The sum of every sample of the family `name` (all label sets; "name" alone or "name{...}").
double familySum(const std::string& scrape, const std::string& name);

// GET /metrics on the admin listener at `admin_port`. Throws std::runtime_error unless 200.
std::string scrapeMetrics(uint16_t admin_port);

// Scrapes at construction ("before"); after() scrapes again, and delta()/familyDelta() compare
// the latest scrape with the first.
class MetricsDelta {
 public:
  explicit MetricsDelta(uint16_t admin_port);
  explicit MetricsDelta(const DaemonProcess& daemon);

  // Scrapes "after". With a `settle_series`, rescrapes (up to `timeout`) until that series has
  // moved by at least `settle_by`: a failure line is logged just before its counters move, so a
  // test that waited for the line may scrape a moment early. The assertions stay exact.
  void after();
  void after(const std::string& settle_series, double settle_by = 1,
             std::chrono::milliseconds timeout = 2s);

  double delta(const std::string& series) const;
  double familyDelta(const std::string& name) const;

  const std::string& before() const { return before_; }
  const std::string& latest() const { return after_; }

 private:
  uint16_t admin_port_;
  std::string before_;
  std::string after_;
};

}  // namespace triaged::test
