#pragma once

// Request ids for X-Request-Id and the failure log: random, so they are unique across restarts
// and replicas without coordination.

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace triaged {

// One request's id, kept inline so that naming a request allocates nothing: a generated id is 32
// hex characters, a client's X-Request-Id is kept when it is 1..kMaxLength bytes of visible
// ASCII.
class RequestId {
 public:
  static constexpr size_t kMaxLength = 200;

  // 128 random bits as 32 lowercase hex characters. Lock-free: each thread has its own
  // generator, seeded once from std::random_device. Not for secrets: mt19937_64 is predictable.
  static RequestId generate();
  // The client's id when it is usable (1..kMaxLength bytes, each '!'..'~'), else a generated
  // one.
  static RequestId fromClient(std::string_view value);

  std::string_view view() const { return {bytes_.data(), length_}; }
  // NOLINTNEXTLINE(google-explicit-constructor): an id is used wherever its text is
  operator std::string_view() const { return view(); }

 private:
  std::array<char, kMaxLength> bytes_{};
  uint8_t length_ = 0;
};

// The same as a string, for the paths that keep it (rare ones: client errors).
std::string generateRequestId();

}  // namespace triaged
