#include <catch2/catch.hpp>

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

}  // namespace triaged::observe
