#include "triaged/proxy/endpoint_health.h"

#include <catch2/catch.hpp>

namespace triaged::proxy {
namespace {

using namespace std::chrono_literals;
using TP = EndpointHealth::TimePoint;
const TP kStart = TP{} + 1000s;

TEST_CASE("an endpoint is marked down after the third connect failure in a row",
          "[unit][endpoint_health]") {
  EndpointHealth health;
  CHECK_FALSE(health.down());
  CHECK_FALSE(health.onConnectFailure(kStart));
  CHECK_FALSE(health.onConnectFailure(kStart + 10ms));
  CHECK_FALSE(health.down());
  CHECK(health.onConnectFailure(kStart + 20ms));  // this one marks it down
  CHECK(health.down());
  CHECK(health.consecutiveFailures() == 3);
  CHECK(health.firstFailure() == kStart);
  CHECK(health.lastFailure() == kStart + 20ms);
  CHECK(health.downSince() == kStart + 20ms);
  // Further failures while down do not "mark" it again (one endpoint_down line per spell).
  CHECK_FALSE(health.onConnectFailure(kStart + 30ms));
  CHECK(health.lastFailure() == kStart + 30ms);
}

TEST_CASE("a success in between starts the count again", "[unit][endpoint_health]") {
  EndpointHealth health;
  health.onConnectFailure(kStart);
  health.onConnectFailure(kStart + 1ms);
  CHECK_FALSE(health.onConnectSuccess());  // it was not down
  CHECK(health.consecutiveFailures() == 0);
  CHECK_FALSE(health.onConnectFailure(kStart + 2ms));
  CHECK(health.firstFailure() == kStart + 2ms);  // a new run
  CHECK_FALSE(health.down());
}

TEST_CASE("any connect success, a request's or a probe's, ends a down spell at once",
          "[unit][endpoint_health]") {
  EndpointHealth health;
  for (int i = 0; i < 3; ++i) health.onConnectFailure(kStart + std::chrono::milliseconds(i));
  REQUIRE(health.down());
  CHECK(health.onConnectSuccess());  // the spell ended
  CHECK_FALSE(health.down());
  CHECK(health.consecutiveFailures() == 0);
  // No down period to sit out: the next failures count from zero again.
  CHECK_FALSE(health.onConnectFailure(kStart + 1s));
  CHECK_FALSE(health.down());
}

TEST_CASE("failures saturate instead of wrapping", "[unit][endpoint_health]") {
  EndpointHealth health;
  for (int i = 0; i < 5; ++i) health.onConnectFailure(kStart);
  CHECK(health.consecutiveFailures() == 5);
  CHECK(health.down());
  CHECK(EndpointHealth::kProbeInterval <= 1000ms);  // a return is seen within a second
}

}  // namespace
}  // namespace triaged::proxy
