#include "triaged/server/descriptor_budget.h"

#include <sys/resource.h>

#include <algorithm>
#include <limits>

namespace triaged::server {

uint64_t raiseDescriptorLimit() {
  rlimit lim{};
  if (getrlimit(RLIMIT_NOFILE, &lim) != 0) return 1024;
  if (lim.rlim_cur < lim.rlim_max) {
    rlimit raised = lim;
    raised.rlim_cur = lim.rlim_max;
    // An unlimited hard limit cannot be the soft one on Linux (nr_open caps it): keep what we had.
    if (setrlimit(RLIMIT_NOFILE, &raised) == 0) lim = raised;
  }
  return lim.rlim_cur == RLIM_INFINITY ? std::numeric_limits<uint32_t>::max()
                                       : static_cast<uint64_t>(lim.rlim_cur);
}

uint32_t clientConnectionsFor(uint64_t limit) {
  const uint64_t usable = limit > 2 * kReservedDescriptors ? (limit - kReservedDescriptors) / 2
                                                           : std::max<uint64_t>(1, limit / 4);
  return static_cast<uint32_t>(std::min<uint64_t>(usable, std::numeric_limits<uint32_t>::max()));
}

}  // namespace triaged::server
