#include <catch2/catch.hpp>
#include <string>
#include <vector>

#include "triaged/config/config_loader.h"

namespace triaged::config {
namespace {

TEST_CASE("parseDuration accepts a number with a unit and returns milliseconds", "[unit][config]") {
  struct Case {
    const char* text;
    int64_t ms;
  };
  const std::vector<Case> cases = {
      {"250ms", 250},
      {"1s", 1'000},
      {"2m", 120'000},
      {"1h", 3'600'000},
      {"0s", 0},
      {"0ms", 0},
      {"1.5s", 1'500},
      {"1.25m", 75'000},
      {"0.001s", 1},
      {"0.5ms", 1},  // sub-millisecond rounds to nearest, halves up
      {"0.4ms", 0},
      {"0.0005s", 1},
      {"0.0004s", 0},
      {"1m30s", 90'000},  // Go-style compound
      {"1h0m0.5s", 3'600'500},
      {"007s", 7'000},
      {"1.0000000001s", 1'000},  // digits past nanoseconds are ignored
      {"86400s", 86'400'000},
  };
  for (const auto& c : cases) {
    INFO(c.text);
    const auto parsed = parseDuration(c.text);
    REQUIRE(parsed.ok());
    CHECK(parsed->count() == c.ms);
  }
}

TEST_CASE("parseDuration refuses what is not a duration, with a clear message", "[unit][config]") {
  struct Case {
    const char* text;
    const char* message_contains;
  };
  const std::string example = R"(expected a duration such as "250ms", "1s" or "2m")";
  const std::vector<Case> cases = {
      {"", "empty duration"},           {"10", "has no unit"},
      {"1.5", "has no unit"},           {"-1s", "negative duration"},
      {"-0s", "negative duration"},     {"1d", "unknown unit \"d\""},
      {"1us", "unknown unit \"us\""},   {"1S", "unknown unit \"S\""},
      {"1sec", "unknown unit \"sec\""}, {"s", "invalid duration"},
      {"ms", "invalid duration"},       {".5s", "invalid duration"},
      {"1.s", "invalid duration"},      {" 1s", "invalid duration"},
      {"1s ", "invalid duration"},      {"1 s", "has no unit"},
      {"abc", "invalid duration"},      {"1s-1s", "invalid duration"},
      {"+1s", "invalid duration"},      {"1e3ms", "unknown unit \"e\""},
  };
  for (const auto& c : cases) {
    INFO(c.text);
    const auto parsed = parseDuration(c.text);
    REQUIRE_FALSE(parsed.ok());
    CHECK_THAT(parsed.error().message, Catch::Contains(c.message_contains));
    CHECK_THAT(parsed.error().message, Catch::Contains(example));
  }
}

TEST_CASE("parseDuration refuses values that overflow", "[unit][config]") {
  for (const char* text : {"99999999999999999999h", "9223372036854775807ms", "5000000000000000h",
                           "1h9223372036854775000ms"}) {
    INFO(text);
    const auto parsed = parseDuration(text);
    REQUIRE_FALSE(parsed.ok());
    CHECK_THAT(parsed.error().message, Catch::Contains("too large"));
  }
}

}  // namespace
}  // namespace triaged::config
