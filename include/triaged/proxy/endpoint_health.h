#pragma once

// EndpointHealth: passive health of one endpoint, fed with connect outcomes. Three failed
// connects in a row mark it down for 5 s; each further down period doubles, up to 60 s. When a
// period ends exactly one request probes the endpoint (half-open) while the others still see it
// as down; a success makes it healthy again. Pure logic with explicit time points.

#include <chrono>
#include <cstdint>

namespace triaged::proxy {

class EndpointHealth {
 public:
  using TimePoint = std::chrono::steady_clock::time_point;
  static constexpr uint32_t kFailureThreshold = 3;
  static constexpr std::chrono::milliseconds kBaseDownPeriod{5'000};
  static constexpr std::chrono::milliseconds kMaxDownPeriod{60'000};

  // Healthy, or its down period is over and no probe is in flight.
  bool available(TimePoint now) const;
  // A request was sent to it; after a down period this request becomes the probe.
  void onSelected(TimePoint now);
  void onConnectSuccess();
  void onConnectFailure(TimePoint now);
  // The probe ended without a connect result (its client went away): let another probe.
  void onProbeAbandoned();

  bool isDown(TimePoint now) const;
  TimePoint downUntil() const { return down_until_; }
  uint32_t consecutiveFailures() const { return failures_; }

 private:
  uint32_t failures_ = 0;
  bool marked_down_ = false;
  bool probing_ = false;
  TimePoint down_until_{};
  std::chrono::milliseconds next_period_ = kBaseDownPeriod;
};

}  // namespace triaged::proxy
