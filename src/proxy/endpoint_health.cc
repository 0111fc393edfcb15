#include "triaged/proxy/endpoint_health.h"

#include <algorithm>

namespace triaged::proxy {

bool EndpointHealth::available(TimePoint now) const {
  if (!marked_down_) return true;
  return now >= down_until_ && !probing_;
}

void EndpointHealth::onSelected(TimePoint now) {
  if (marked_down_ && now >= down_until_) probing_ = true;
}

void EndpointHealth::onConnectSuccess() {
  failures_ = 0;
  marked_down_ = false;
  probing_ = false;
  next_period_ = kBaseDownPeriod;
}

void EndpointHealth::onConnectFailure(TimePoint now) {
  ++failures_;
  if (probing_ || (!marked_down_ && failures_ >= kFailureThreshold)) {
    // A failed probe, or the threshold reached: down again, for longer each time.
    marked_down_ = true;
    probing_ = false;
    down_until_ = now + next_period_;
    next_period_ = std::min(next_period_ * 2, kMaxDownPeriod);
  }
}

void EndpointHealth::onProbeAbandoned() { probing_ = false; }

bool EndpointHealth::isDown(TimePoint now) const { return marked_down_ && now < down_until_; }

}  // namespace triaged::proxy
