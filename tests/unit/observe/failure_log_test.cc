#include "triaged/observe/failure_log.h"

#include <catch2/catch.hpp>

namespace triaged::observe {

using std::chrono::milliseconds;
using TP = FailureLogLimiter::TimePoint;

TEST_CASE("the first burst of lines per key is logged, the rest counted", "[unit][failure_log]") {
  FailureLogLimiter limiter(3, milliseconds(10'000));
  const TP t0{};
  int admitted = 0;
  for (int i = 0; i < 10; ++i) admitted += limiter.admit("app/connect_refused", t0) ? 1 : 0;
  CHECK(admitted == 3);
  // Another key has its own budget.
  CHECK(limiter.admit("app/stale_keepalive", t0));
  // Nothing is reported before the interval ends.
  CHECK(limiter.takeSuppressed(t0 + milliseconds(5'000)).empty());
  auto s = limiter.takeSuppressed(t0 + milliseconds(10'000));
  REQUIRE(s.size() == 1);
  CHECK(s[0].key == "app/connect_refused");
  CHECK(s[0].count == 7);
  CHECK_FALSE(limiter.anySuppressed());
  // A new interval starts with a full budget.
  CHECK(limiter.admit("app/connect_refused", t0 + milliseconds(10'001)));
}

TEST_CASE("a quiet key starts a fresh interval", "[unit][failure_log]") {
  FailureLogLimiter limiter(1, milliseconds(1'000));
  const TP t0{};
  CHECK(limiter.admit("k", t0));
  CHECK_FALSE(limiter.admit("k", t0 + milliseconds(10)));
  CHECK(limiter.takeSuppressed(t0 + milliseconds(1'000)).size() == 1);
  CHECK(limiter.admit("k", t0 + milliseconds(1'500)));
}

}  // namespace triaged::observe
