#include "triaged/core/request_id.h"

#include <array>
#include <cstdint>
#include <cstring>
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

// "00".."ff": two hex characters per byte, one lookup each.
constexpr std::array<char, 512> kHexPairs = [] {
  constexpr char kHex[] = "0123456789abcdef";
  std::array<char, 512> t{};
  for (size_t b = 0; b < 256; ++b) {
    t[2 * b] = kHex[b >> 4];
    t[2 * b + 1] = kHex[b & 0xf];
  }
  return t;
}();

}  // namespace

RequestId RequestId::generate() {
  thread_local std::mt19937_64 engine = makeEngine();
  RequestId id;
  char* out = id.bytes_.data();
  for (int half = 0; half < 2; ++half) {
    uint64_t bits = engine();
    for (int i = 0; i < 8; ++i) {
      std::memcpy(out, &kHexPairs[2 * (bits & 0xff)], 2);
      out += 2;
      bits >>= 8;
    }
  }
  id.length_ = 32;
  return id;
}

RequestId RequestId::fromClient(std::string_view value) {
  if (value.empty() || value.size() > kMaxLength) return generate();
  // Visible ASCII only: the id is what an operator searches logs for, and copies from one
  // system into another; a header value may carry any byte from 0x80 up, and spaces or tabs.
  for (const char c : value) {
    if (c < '!' || c > '~') return generate();
  }
  RequestId id;
  std::memcpy(id.bytes_.data(), value.data(), value.size());
  id.length_ = static_cast<uint8_t>(value.size());
  return id;
}

std::string generateRequestId() { return std::string(RequestId::generate().view()); }

}  // namespace triaged
