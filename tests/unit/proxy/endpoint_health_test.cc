#include "triaged/proxy/endpoint_health.h"

#include <catch2/catch.hpp>
#include <chrono>

namespace triaged::proxy {
namespace {

using namespace std::chrono_literals;
using State = EndpointHealth::State;

const EndpointHealth::TimePoint kStart = EndpointHealth::Clock::now();

void failTimes(EndpointHealth& health, int times, EndpointHealth::TimePoint now) {
  for (int i = 0; i < times; ++i) health.onConnectFailure(now);
}

TEST_CASE("health: a new endpoint is healthy and available", "[unit][health]") {
  EndpointHealth health;
  CHECK(health.state(kStart) == State::Healthy);
  CHECK(health.available(kStart));
  CHECK_FALSE(health.isDown(kStart));
  CHECK(health.consecutiveFailures() == 0);
  CHECK_FALSE(health.onSelected(kStart));  // a healthy endpoint is never "probed"
  CHECK(health.nextDownPeriod() == 5s);
}

TEST_CASE("health: three consecutive connect failures mark it down for 5 s", "[unit][health]") {
  EndpointHealth health;
  failTimes(health, 2, kStart);
  CHECK(health.available(kStart));
  CHECK(health.consecutiveFailures() == 2);

  health.onConnectFailure(kStart + 1s);
  CHECK(health.consecutiveFailures() == 3);
  CHECK(health.isDown(kStart + 1s));
  CHECK_FALSE(health.available(kStart + 1s));
  CHECK(health.downUntil() == kStart + 6s);
  CHECK(health.state(kStart + 5999ms) == State::Down);
  CHECK(health.state(kStart + 6s) == State::ProbeDue);
  CHECK(health.available(kStart + 6s));
  CHECK_FALSE(health.isDown(kStart + 6s));
}

TEST_CASE("health: a success in between resets the failure count", "[unit][health]") {
  EndpointHealth health;
  failTimes(health, 2, kStart);
  health.onConnectSuccess();
  CHECK(health.consecutiveFailures() == 0);
  failTimes(health, 2, kStart);
  CHECK(health.state(kStart) == State::Healthy);
  health.onConnectFailure(kStart);
  CHECK(health.state(kStart) == State::Down);
}

TEST_CASE("health: after the down period exactly one request probes", "[unit][health]") {
  EndpointHealth health;
  failTimes(health, 3, kStart);
  const auto expired = kStart + 5s;

  CHECK(health.available(expired));
  CHECK(health.onSelected(expired));  // this request is the probe
  CHECK(health.probeInFlight());
  CHECK(health.state(expired) == State::Probing);
  // Every other request still sees it as unavailable while the probe is out.
  CHECK_FALSE(health.available(expired));
  CHECK_FALSE(health.available(expired + 30s));
  CHECK_FALSE(health.onSelected(expired));
  CHECK_FALSE(health.isDown(expired));  // not in a down period: the probe decides

  SECTION("a probe success makes it healthy, with the period back at 5 s") {
    health.onConnectSuccess();
    CHECK(health.state(expired) == State::Healthy);
    CHECK(health.available(expired));
    CHECK(health.consecutiveFailures() == 0);
    CHECK(health.nextDownPeriod() == 5s);
    failTimes(health, 3, expired);
    CHECK(health.downUntil() == expired + 5s);
  }
  SECTION("a probe failure marks it down again for 10 s") {
    health.onConnectFailure(expired + 1s);
    CHECK(health.isDown(expired + 1s));
    CHECK(health.downUntil() == expired + 11s);
    CHECK_FALSE(health.probeInFlight());
    CHECK(health.consecutiveFailures() == 4);
    CHECK(health.available(expired + 11s));
  }
  SECTION("an abandoned probe lets the next request probe") {
    health.onProbeAbandoned();
    CHECK(health.state(expired) == State::ProbeDue);
    CHECK(health.available(expired));
    CHECK(health.onSelected(expired));
    CHECK_FALSE(health.available(expired));
  }
}

TEST_CASE("health: down periods double up to 60 s", "[unit][health]") {
  EndpointHealth health;
  auto now = kStart;
  failTimes(health, 3, now);
  const std::chrono::milliseconds expected[] = {5s, 10s, 20s, 40s, 60s, 60s, 60s};
  for (const auto period : expected) {
    INFO("period " << period.count() << " ms");
    REQUIRE(health.isDown(now));
    CHECK(health.downUntil() - now == period);
    now = health.downUntil();
    REQUIRE(health.onSelected(now));
    health.onConnectFailure(now);  // the probe fails
  }
  // A single success forgets the whole history.
  now = health.downUntil();
  REQUIRE(health.onSelected(now));
  health.onConnectSuccess();
  CHECK(health.nextDownPeriod() == 5s);
}

TEST_CASE("health: late results of requests sent before it went down", "[unit][health]") {
  EndpointHealth health;
  failTimes(health, 3, kStart);
  const auto until = health.downUntil();

  // More failures from connects started earlier neither extend nor restart the period.
  health.onConnectFailure(kStart + 1s);
  CHECK(health.downUntil() == until);
  CHECK(health.consecutiveFailures() == 4);
  CHECK(health.nextDownPeriod() == 10s);

  // Nor does a failure after the period expired without a probe.
  health.onConnectFailure(until + 1s);
  CHECK(health.state(until + 1s) == State::ProbeDue);

  // Any connect success, even a late one, proves the endpoint is back.
  health.onConnectSuccess();
  CHECK(health.state(kStart + 2s) == State::Healthy);
}

TEST_CASE("health: selecting a down endpoint changes nothing", "[unit][health]") {
  EndpointHealth health;
  failTimes(health, 3, kStart);
  CHECK_FALSE(health.onSelected(kStart + 1s));
  CHECK(health.state(kStart + 1s) == State::Down);
  CHECK_FALSE(health.probeInFlight());
}

}  // namespace
}  // namespace triaged::proxy
