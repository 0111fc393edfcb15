// parseDuration and parseHostPort: any text is a value or an error message, and a value is
// sane: a duration is not negative; a host:port has a host, and when it prints back it parses
// back to the same thing.

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "fuzz_support.h"
#include "triaged/config/config_loader.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);  // NOLINT: bytes
  const auto d = triaged::config::parseDuration(text);
  if (d.ok()) {
    FUZZ_CHECK(d->count() >= 0, "a negative duration");
  } else {
    FUZZ_CHECK(!d.error().message.empty(), "an error without a message");
  }
  const auto hp = triaged::config::parseHostPort(text);
  if (hp.ok()) {
    FUZZ_CHECK(!hp->host.empty(), "an endpoint without a host");
    const auto again = triaged::config::parseHostPort(hp->toString());
    FUZZ_CHECK(again.ok(), hp->toString().c_str());
    FUZZ_CHECK(*again == *hp, "toString does not parse back to the same endpoint");
  } else {
    FUZZ_CHECK(!hp.error().message.empty(), "an error without a message");
  }
  return 0;
}
