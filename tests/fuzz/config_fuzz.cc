// The configuration loader from a string: any text either loads or is refused with
// ConfigError, never another exception or a crash, and every problem names the file, a line
// (0 only for a key the file lacks), the key and a reason: the FILE:LINE: KEY: reason contract
// of --check-config.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz_support.h"
#include "triaged/config/config_loader.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);  // NOLINT: bytes
  try {
    const triaged::config::Config c = triaged::config::loadConfigString(text, "fuzz.toml");
    FUZZ_CHECK(!c.upstreams.empty() && !c.routes.empty(), "a config without upstream or route");
  } catch (const triaged::config::ConfigError& e) {
    FUZZ_CHECK(!e.problems().empty(), "ConfigError without a problem");
    for (const auto& p : e.problems()) {
      FUZZ_CHECK(p.file == "fuzz.toml", "a problem without the file name");
      FUZZ_CHECK(p.line >= 0, "a negative line");
      FUZZ_CHECK(!p.key.empty(), p.format().c_str());
      FUZZ_CHECK(!p.reason.empty(), p.format().c_str());
      FUZZ_CHECK(p.format().rfind("fuzz.toml:" + std::to_string(p.line) + ": ", 0) == 0,
                 p.format().c_str());
    }
  }
  return 0;
}
