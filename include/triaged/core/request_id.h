#pragma once

// Request ids for X-Request-Id and the failure log: random, so they are unique across restarts
// and replicas without coordination.

#include <string>

namespace triaged {

// 32 lowercase hex characters (128 random bits). Lock-free: each thread has its own generator,
// seeded once from std::random_device. Not for secrets: mt19937_64 is predictable.
std::string generateRequestId();

}  // namespace triaged
