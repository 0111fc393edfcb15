#pragma once

// Passive health of one upstream endpoint, judged only from connect results of real requests
// (no active health checks). Pure logic with explicit time points so tests need no clock.

#include <chrono>
#include <cstdint>

namespace triaged::proxy {

// State machine:
//   Healthy --3rd consecutive connect failure--> Down(until now + period)
//   Down --period over--> ProbeDue --onSelected()--> Probing (exactly one request in flight)
//   Probing --connect success--> Healthy (failures 0, period back to 5 s)
//   Probing --connect failure--> Down(until now + doubled period, capped at 60 s)
//   Probing --onProbeAbandoned()--> ProbeDue (the next request probes instead)
// Any connect success, from any request, resets to Healthy.
//
// One instance per endpoint, owned by the upstream pool of one worker thread and used only on
// that thread (not synchronised). Lives as long as the endpoint is configured.
class EndpointHealth {
 public:
  using Clock = std::chrono::steady_clock;
  using TimePoint = Clock::time_point;
  using Duration = std::chrono::milliseconds;

  static constexpr uint32_t kFailureThreshold = 3;
  static constexpr Duration kInitialDownPeriod{5'000};
  static constexpr Duration kMaxDownPeriod{60'000};

  enum class State { Healthy, Down, ProbeDue, Probing };

  State state(TimePoint now) const;

  // True when a request may be sent: healthy, or its down period is over and no probe is in
  // flight yet. The caller then calls onSelected() for the request it sends.
  bool available(TimePoint now) const;
  // Inside a down period (state Down). Not the same as !available(): while the one probe is in
  // flight the endpoint is neither down nor available. A Healthy/Probing -> Down change after a
  // failure is therefore the moment to log "endpoint_down" (a failed probe starts a new period).
  bool isDown(TimePoint now) const { return state(now) == State::Down; }

  // A request was sent to this endpoint. Returns true when that request is the half-open probe
  // (the down period had expired); the caller should then report its connect result, or call
  // onProbeAbandoned() if it ends without one. Calling it while unavailable changes nothing.
  bool onSelected(TimePoint now);
  void onConnectSuccess();
  // A failure while a probe is in flight is taken as the probe's result. A failure while the
  // endpoint is already down (from a request sent before it went down) only counts.
  void onConnectFailure(TimePoint now);
  void onProbeAbandoned();

  // Meaningful while down: the end of the current down period.
  TimePoint downUntil() const { return down_until_; }
  uint32_t consecutiveFailures() const { return consecutive_failures_; }
  bool probeInFlight() const { return probe_in_flight_; }
  // The length of the next down period, should the endpoint go down (again).
  Duration nextDownPeriod() const { return next_down_period_; }

 private:
  void markDown(TimePoint now);

  uint32_t consecutive_failures_ = 0;
  bool down_ = false;
  bool probe_in_flight_ = false;
  TimePoint down_until_{};
  Duration next_down_period_ = kInitialDownPeriod;
};

}  // namespace triaged::proxy
