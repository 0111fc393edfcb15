#include "triaged/admin/health_cli.h"

#include <catch2/catch.hpp>

namespace triaged::admin {

TEST_CASE("health probes a wildcard listener on the loopback of its family", "[unit][health_cli]") {
  CHECK(probeAddress({"0.0.0.0", 9901, true}).toString() == "127.0.0.1:9901");
  CHECK(probeAddress({"::", 9901, true}).toString() == "[::1]:9901");
  CHECK(probeAddress({"127.0.0.1", 9902, true}).toString() == "127.0.0.1:9902");
  CHECK(probeAddress({"192.0.2.10", 9901, true}).toString() == "192.0.2.10:9901");
  CHECK(probeAddress({"::1", 80, true}).toString() == "[::1]:80");
}

}  // namespace triaged::admin
