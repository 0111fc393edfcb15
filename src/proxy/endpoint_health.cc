#include "triaged/proxy/endpoint_health.h"

namespace triaged::proxy {

bool EndpointHealth::onConnectSuccess() {
  const bool was_down = down_;
  consecutive_failures_ = 0;
  down_ = false;
  return was_down;
}

bool EndpointHealth::onConnectFailure(TimePoint now) {
  if (consecutive_failures_ == 0) first_failure_ = now;
  last_failure_ = now;
  // Saturate rather than wrap: an endpoint down for months must not look healthy again.
  if (consecutive_failures_ < UINT32_MAX) ++consecutive_failures_;
  if (down_ || consecutive_failures_ < kFailureThreshold) return false;
  down_ = true;
  down_since_ = now;
  return true;
}

}  // namespace triaged::proxy
