#include "triaged/proxy/endpoint_health.h"

#include <algorithm>

namespace triaged::proxy {

EndpointHealth::State EndpointHealth::state(TimePoint now) const {
  if (!down_) return State::Healthy;
  if (probe_in_flight_) return State::Probing;
  return now >= down_until_ ? State::ProbeDue : State::Down;
}

bool EndpointHealth::available(TimePoint now) const {
  const State current = state(now);
  return current == State::Healthy || current == State::ProbeDue;
}

bool EndpointHealth::onSelected(TimePoint now) {
  if (state(now) != State::ProbeDue) return false;
  probe_in_flight_ = true;
  return true;
}

void EndpointHealth::onConnectSuccess() {
  consecutive_failures_ = 0;
  down_ = false;
  probe_in_flight_ = false;
  next_down_period_ = kInitialDownPeriod;
}

void EndpointHealth::onConnectFailure(TimePoint now) {
  // Saturate rather than wrap: an endpoint down for months must not look healthy again.
  if (consecutive_failures_ < UINT32_MAX) ++consecutive_failures_;
  if (down_) {
    if (probe_in_flight_) markDown(now);
    return;
  }
  if (consecutive_failures_ >= kFailureThreshold) markDown(now);
}

void EndpointHealth::onProbeAbandoned() { probe_in_flight_ = false; }

void EndpointHealth::markDown(TimePoint now) {
  down_ = true;
  probe_in_flight_ = false;
  down_until_ = now + next_down_period_;
  next_down_period_ = std::min(next_down_period_ * 2, kMaxDownPeriod);
}

}  // namespace triaged::proxy
