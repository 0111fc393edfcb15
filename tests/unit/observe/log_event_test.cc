#include <catch2/catch.hpp>
#include <limits>

#include "triaged/observe/loggers.h"

namespace triaged::observe {

// The unit tests never call initLogging(), so lines come out in the default format, JSON.
TEST_CASE("a log event is one JSON object with its keys in order", "[unit][log_event]") {
  REQUIRE(jsonFormat());
  LogEvent line("upstream_failure");
  line.add("cause", "connect_refused")
      .add("status", 502)
      .add("reused_connection", false)
      .add("connect_ms", 0.25)
      .addNull("header_ms")
      .add("path", "/a \"quoted\" path");
  CHECK(line.str() == R"({"event":"upstream_failure","cause":"connect_refused","status":502,)"
                      R"("reused_connection":false,"connect_ms":0.250,"header_ms":null,)"
                      R"("path":"/a \"quoted\" path"})");
}

TEST_CASE("a missing name is null, not an empty string", "[unit][log_event]") {
  REQUIRE(jsonFormat());
  CHECK(LogEvent("e").addNameOrNull("errno", "ECONNRESET").str() ==
        R"({"event":"e","errno":"ECONNRESET"})");
  CHECK(LogEvent("e").addNameOrNull("errno", "").str() == R"({"event":"e","errno":null})");
  // An empty value given as a value stays a string: only names of absent things become null.
  CHECK(LogEvent("e").add("path", "").str() == R"({"event":"e","path":""})");
}

TEST_CASE("a number that is not finite is null, so the line stays JSON", "[unit][log_event]") {
  // Found by tests/fuzz/json_writer_fuzz.cc (corpus/json_writer_fuzz/regression-nan-double):
  // fmt writes "nan" and "inf", which no JSON parser takes.
  REQUIRE(jsonFormat());
  for (const double v :
       {std::numeric_limits<double>::quiet_NaN(), std::numeric_limits<double>::infinity(),
        -std::numeric_limits<double>::infinity()}) {
    CHECK(LogEvent("e").add("connect_ms", v).str() == R"({"event":"e","connect_ms":null})");
  }
}

}  // namespace triaged::observe
