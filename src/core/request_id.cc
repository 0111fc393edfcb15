#include "triaged/core/request_id.h"

#include <array>
#include <cstdint>
#include <random>

namespace triaged {

namespace {

std::mt19937_64 makeEngine() {
  // A single random_device word would give only 2^32 seeds; the id has 128 bits.
  std::random_device device;
  std::array<std::random_device::result_type, 8> words{};
  for (auto& word : words) word = device();
  std::seed_seq seed(words.begin(), words.end());
  return std::mt19937_64(seed);
}

}  // namespace

std::string generateRequestId() {
  thread_local std::mt19937_64 engine = makeEngine();
  static constexpr char kHex[] = "0123456789abcdef";
  std::string id(32, '0');
  for (size_t half = 0; half < 2; ++half) {
    uint64_t bits = engine();
    for (size_t i = 0; i < 16; ++i) {
      id[half * 16 + i] = kHex[bits & 0xf];
      bits >>= 4;
    }
  }
  return id;
}

}  // namespace triaged
