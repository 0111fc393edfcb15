#include "triaged/core/request_id.h"

#include <cstdint>
#include <random>

namespace triaged {

std::string generateRequestId() {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out(32, '0');
  for (size_t half = 0; half < 2; ++half) {
    uint64_t v = rng();
    for (size_t i = 0; i < 16; ++i) {
      out[half * 16 + i] = kHex[v & 0xf];
      v >>= 4;
    }
  }
  return out;
}

}  // namespace triaged
