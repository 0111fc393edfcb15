#pragma once

// Request ids for requests that arrive without X-Request-Id.

#include <string>

namespace triaged {

// 32 lowercase hex characters (128 random bits) from a per-thread generator: no lock.
std::string generateRequestId();

}  // namespace triaged
