#pragma once

// Passive health of one upstream endpoint, judged from the connect results of real requests and
// of the cluster's probes. Pure logic with explicit time points, so tests need no clock.
//
//   Healthy --kFailureThreshold consecutive connect failures--> Down
//   Down    --any connect success (a request's or a probe's)--> Healthy
//
// Down is a preference, never a verdict that answers for the upstream: a down endpoint gets no
// request while another endpoint of its upstream is healthy, and when none is, requests try the
// down ones anyway, the least recently failed first, so the client gets the true cause (refused,
// timed out, with errno) and the first request after the app is back succeeds. (v1 answered 503
// no_healthy_endpoint for a doubling down period instead: it hid the cause and lengthened every
// outage by up to a minute.) While down, the cluster probes the endpoint with a plain connect
// every kProbeInterval, so its return is seen within a second even with no traffic.
//
// One instance per endpoint, owned by the upstream cluster of one worker thread and used only on
// that thread (not synchronised). Lives as long as the endpoint is configured.

#include <chrono>
#include <cstdint>

namespace triaged::proxy {

class EndpointHealth {
 public:
  using Clock = std::chrono::steady_clock;
  using TimePoint = Clock::time_point;
  using Duration = std::chrono::milliseconds;

  static constexpr uint32_t kFailureThreshold = 3;
  static constexpr Duration kProbeInterval{500};

  bool down() const { return down_; }
  // True when this success ended a down spell.
  bool onConnectSuccess();
  // True when this failure marked the endpoint down.
  bool onConnectFailure(TimePoint now);

  uint32_t consecutiveFailures() const { return consecutive_failures_; }
  // When the current run of failures began, and its latest failure (meaningful once one failed).
  TimePoint firstFailure() const { return first_failure_; }
  TimePoint lastFailure() const { return last_failure_; }
  // When the endpoint was marked down (meaningful while down).
  TimePoint downSince() const { return down_since_; }

 private:
  uint32_t consecutive_failures_ = 0;
  bool down_ = false;
  TimePoint first_failure_{};
  TimePoint last_failure_{};
  TimePoint down_since_{};
};

}  // namespace triaged::proxy
