#include "triaged/config/config_diff.h"

#include <catch2/catch.hpp>

#include "triaged/config/config_loader.h"

namespace triaged::config {
namespace {

const char* kBase = R"(
[server]
listen = "127.0.0.1:8080"

[log]
level = "info"

[[upstream]]
name = "app"
endpoints = ["127.0.0.1:8081"]

[[upstream]]
name = "legacy"
endpoints = ["127.0.0.1:8082"]

[[route]]
prefix = "/"
upstream = "app"

[[route]]
prefix = "/old"
upstream = "legacy"
)";

Config load(const std::string& text) { return loadConfigString(text, "test.toml"); }

TEST_CASE("the diff names upstreams, routes and keys by identity", "[unit][config_diff]") {
  const Config before = load(kBase);
  const Config after = load(R"(
[server]
listen = "127.0.0.1:8080"
client_idle_timeout = "30s"

[log]
level = "debug"

[[upstream]]
name = "app"
endpoints = ["127.0.0.1:8081"]
connect_timeout = "250ms"

[[upstream]]
name = "billing"
endpoints = ["127.0.0.1:8083"]

[[route]]
prefix = "/billing"
upstream = "billing"

[[route]]
prefix = "/"
upstream = "app"
)");
  const ConfigDiff d = diffConfigs(before, after);
  CHECK(d.upstreams_added == std::vector<std::string>{"billing"});
  CHECK(d.upstreams_removed == std::vector<std::string>{"legacy"});
  CHECK(d.upstreams_changed == std::vector<std::string>{"app"});
  CHECK(d.routes_added == std::vector<std::string>{"/billing"});
  CHECK(d.routes_removed == std::vector<std::string>{"/old"});
  CHECK(d.routes_changed.empty());  // "/" moved in the file, and still goes to app
  CHECK(d.keys_changed == std::vector<std::string>{"log.level: info -> debug",
                                                   "server.client_idle_timeout: 1m -> 30s"});
  CHECK(d.summary() ==
        "upstreams +billing -legacy ~app; routes +/billing -/old; keys log.level: info -> debug, "
        "server.client_idle_timeout: 1m -> 30s");
  CHECK(diffConfigs(before, before).empty());
  CHECK(diffConfigs(before, before).summary() == "no change");
}

TEST_CASE("the hash follows the effective values, not the text", "[unit][config_diff]") {
  const Config a = load(kBase);
  // The same configuration, reordered, commented, with a default written out.
  const Config b = load(std::string("# a comment\n") + R"(
[log]
level = "info"

[server]
workers = 1
listen = "127.0.0.1:8080"

[[upstream]]
name = "legacy"
endpoints = ["127.0.0.1:8082"]

[[upstream]]
name = "app"
endpoints = ["127.0.0.1:8081"]

[[route]]
prefix = "/old"
upstream = "legacy"

[[route]]
prefix = "/"
upstream = "app"
)");
  CHECK(configHash(a) == configHash(b));
  CHECK(configHash(a).size() == 16);
  Config c = a;
  c.upstreams[0].retries = 2;
  CHECK(configHash(a) != configHash(c));
}

TEST_CASE("keys a running process cannot change are named", "[unit][config_diff]") {
  const Config a = load(kBase);
  Config b = a;
  CHECK(restartOnlyChanges(a, b).empty());
  b.server.workers = 4;
  b.log.format = "text";
  b.log.level = "debug";  // this one can change in place
  CHECK(restartOnlyChanges(a, b) == std::vector<std::string>{"server.workers", "log.format"});
}

}  // namespace
}  // namespace triaged::config
