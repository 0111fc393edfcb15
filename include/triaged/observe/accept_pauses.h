#pragma once

// What a listener's pauses (net::Listener) become for the operator: a count in
// triaged_accept_pauses_total{listener,reason} and one line, rate-limited per reason (the first
// in each interval in full, then one accept_paused_suppressed line with the count). One per
// listener per loop, used on that loop's thread.

#include <string>
#include <string_view>

#include "triaged/core/event_loop.h"
#include "triaged/observe/failure_log.h"
#include "triaged/observe/metrics.h"

namespace triaged::observe {

class AcceptPauseReporter {
 public:
  AcceptPauseReporter(EventLoop& loop, std::string listener, ListenerMetrics& metrics);

  // `err`: the errno of a failed accept(), or 0 for the owner's connection limit. `detail` says
  // what was in use ("480 client connections in this worker").
  void onPause(int err, std::string_view detail);

 private:
  std::string listener_;
  ListenerMetrics& metrics_;
  FailureLog lines_;
};

}  // namespace triaged::observe
