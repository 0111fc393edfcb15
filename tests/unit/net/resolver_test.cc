#include "triaged/net/resolver.h"

#include <event2/event.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <optional>
#include <string>
#include <thread>

#include "triaged/core/event_loop.h"

namespace triaged::net {
namespace {

// A resolv.conf written to a fresh temporary file, removed on destruction.
class ResolvConf {
 public:
  explicit ResolvConf(const std::string& content) {
    char name[] = "/tmp/triaged_resolv_XXXXXX";
    const int fd = ::mkstemp(name);
    REQUIRE(fd >= 0);
    ::close(fd);
    path_ = name;
    std::ofstream(path_) << content;
  }
  ~ResolvConf() { std::remove(path_.c_str()); }
  ResolvConf(const ResolvConf&) = delete;
  ResolvConf& operator=(const ResolvConf&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// Resolves an address literal (answered without asking a name server) and runs the loop until
// the answer comes, at most 2 s.
std::optional<Resolution> resolveLiteral(EventLoop& loop, Resolver& resolver) {
  std::optional<Resolution> got;
  auto query = resolver.resolve("127.0.0.1", 8081, [&](const Resolution& r) { got = r; });
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(2);
  while (!got && std::chrono::steady_clock::now() < deadline) {
    event_base_loop(loop.base(), EVLOOP_NONBLOCK);
    std::this_thread::sleep_for(std::chrono::microseconds(200));
  }
  return got;
}

}  // namespace

// A container started with no network (podman --network none) or from an empty base image has
// no /etc/resolv.conf, or one without a nameserver line. Like glibc, the resolver then uses
// 127.0.0.1:53; a configuration whose endpoints are all address literals needs no DNS at all,
// so the daemon must start.
TEST_CASE("resolver starts without a usable resolv.conf", "[unit][resolver]") {
  EventLoop loop;
  SECTION("missing file") {
    Resolver resolver(loop, {}, "/nonexistent/triaged/resolv.conf");
    const auto got = resolveLiteral(loop, resolver);
    REQUIRE(got);
    CHECK(got->error == 0);
    REQUIRE(got->addresses.size() == 1);
  }
  SECTION("no nameserver line") {
    ResolvConf conf("# nothing here\noptions ndots:1\n");
    Resolver resolver(loop, {}, conf.path());
    const auto got = resolveLiteral(loop, resolver);
    REQUIRE(got);
    CHECK(got->error == 0);
  }
  SECTION("empty file") {
    ResolvConf conf("");
    CHECK_NOTHROW(Resolver(loop, {}, conf.path()));
  }
}

TEST_CASE("resolver reads the name servers of resolv.conf", "[unit][resolver]") {
  EventLoop loop;
  ResolvConf conf("nameserver 127.0.0.1\n");
  Resolver resolver(loop, {}, conf.path());
  const auto got = resolveLiteral(loop, resolver);
  REQUIRE(got);
  CHECK(got->error == 0);
}

}  // namespace triaged::net
