#include "triaged/http/trace_context.h"

#include <catch2/catch.hpp>

namespace triaged::http {
namespace {

TEST_CASE("traceparent: version 00 read, malformed ones ignored", "[unit][trace_context]") {
  const auto t = parseTraceParent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
  REQUIRE(t);
  CHECK(t->trace_id == "4bf92f3577b34da6a3ce929d0e0e4736");
  CHECK(t->parent_id == "00f067aa0ba902b7");
  CHECK(t->flags == "01");
  // A later version: its first four fields, with more after a dash.
  CHECK(parseTraceParent("01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00-extra"));
  for (const char* bad : {
           "",
           "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-x",  // 00 has no more
           "00-00000000000000000000000000000000-00f067aa0ba902b7-01",    // zero trace id
           "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",    // zero parent id
           "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",    // forbidden version
           "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",    // upper case
           "00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01",     // short
           "00_4bf92f3577b34da6a3ce929d0e0e4736_00f067aa0ba902b7_01",
       }) {
    INFO(bad);
    CHECK_FALSE(parseTraceParent(bad));
  }
}

TEST_CASE("a request with two traceparents has none", "[unit][trace_context]") {
  const Headers one = {{"traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"}};
  CHECK(requestTraceParent(one));
  const Headers two = {{"traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"},
                       {"Traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"}};
  CHECK_FALSE(requestTraceParent(two));
  CHECK_FALSE(requestTraceParent({}));
}

TEST_CASE("a started traceparent is valid and new each time", "[unit][trace_context]") {
  const std::string a = newTraceParent();
  const std::string b = newTraceParent();
  REQUIRE(parseTraceParent(a));
  CHECK(parseTraceParent(a)->flags == "01");
  CHECK(a != b);
}

}  // namespace
}  // namespace triaged::http
