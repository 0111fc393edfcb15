#include "triaged/config/config_loader.h"

#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace triaged::config {
namespace {

constexpr const char* kFile = "t.toml";

// Loads text that must be rejected and returns every problem reported.
std::vector<ConfigProblem> problemsOf(const std::string& text) {
  try {
    (void)loadConfigString(text, kFile);
  } catch (const ConfigError& e) {
    return e.problems();
  }
  return {};
}

// A valid config with one free line in each table, so every case knows its line numbers:
//   1 [server]        2 <server_line>   3 listen
//   4 [log]           5 <log_line>
//   6 [[upstream]]    7 <upstream_line> 8 name  9 endpoints
//   10... <tail>
std::string configWith(const std::string& server_line, const std::string& log_line = "",
                       const std::string& upstream_line = "", const std::string& tail = "") {
  return "[server]\n" + server_line + "\nlisten = \"127.0.0.1:8080\"\n" + "[log]\n" + log_line +
         "\n" + "[[upstream]]\n" + upstream_line + "\nname = \"app\"\n" +
         "endpoints = [\"127.0.0.1:8081\"]\n" + tail;
}

std::string withServer(const std::string& line) { return configWith(line); }
std::string withLog(const std::string& line) { return configWith("", line); }
std::string withUpstream(const std::string& line) { return configWith("", "", line); }
std::string withTail(const std::string& tail) { return configWith("", "", "", tail); }

struct BadCase {
  const char* what;
  std::string toml;
  std::string key;
  int line;
  std::string reason_contains;
};

const std::vector<BadCase>& badCases() {
  static const std::vector<BadCase> cases = {
      // TLS keys (files are checked by tests/integration/tls_test.cc, with real certificates)
      {"tls_cert without tls_listen", withServer("tls_cert = \"/etc/triaged/tls.crt\""),
       "server.tls_cert", 2, "only used with server.tls_listen, which is not set"},
      {"tls_ca on a plain upstream", withUpstream("tls_ca = \"/etc/ca.pem\""), "upstream[0].tls_ca",
       7, "only used with tls = true in this [[upstream]]"},
      {"tls not a boolean", withUpstream("tls = \"yes\""), "upstream[0].tls", 7,
       "expected true or false, got a string"},
      // [server]
      {"workers above 256", withServer("workers = 300"), "server.workers", 2,
       "must be between 0 and 256, got 300"},
      {"negative workers", withServer("workers = -1"), "server.workers", 2,
       "must be between 0 and 256, got -1"},
      {"workers as a string", withServer("workers = \"4\""), "server.workers", 2,
       "expected an integer, got a string"},
      {"duration without unit", withServer("drain_timeout = \"10\""), "server.drain_timeout", 2,
       "has no unit"},
      {"duration as an integer", withServer("drain_timeout = 10"), "server.drain_timeout", 2,
       "expected a duration string such as \"1s\", got an integer"},
      {"zero header timeout", withServer("client_header_timeout = \"0s\""),
       "server.client_header_timeout", 2, "must be greater than 0"},
      {"negative duration", withServer("client_idle_timeout = \"-1s\""),
       "server.client_idle_timeout", 2, "negative duration"},
      {"tiny request header limit", withServer("max_request_header_bytes = 100"),
       "server.max_request_header_bytes", 2, "must be at least 1024, got 100"},
      {"negative body limit", withServer("max_request_body_bytes = -5"),
       "server.max_request_body_bytes", 2, "must be at least 0, got -5"},
      {"dns server by name", withServer("dns_servers = [\"dns.local:53\"]"),
       "server.dns_servers[0]", 2, "a DNS server must be an IP address"},
      {"dns servers not an array", withServer("dns_servers = \"10.0.0.1\""), "server.dns_servers",
       2, "expected an array of \"host:port\" strings"},
      {"dns server bad port", withServer("dns_servers = [\"10.0.0.1:99999\"]"),
       "server.dns_servers[0]", 2, "port must be a number between 0 and 65535"},
      {"unknown duration unit", withServer("dns_refresh = \"5x\""), "server.dns_refresh", 2,
       "unknown unit \"x\""},
      {"admin listen by name", withServer("admin_listen = \"localhost:9901\""),
       "server.admin_listen", 2, "a listen address must be an IP address"},
      {"admin listen same as listen", withServer("admin_listen = \"127.0.0.1:8080\""),
       "server.admin_listen", 2, "must differ from server.listen"},
      {"admin listen without port", withServer("admin_listen = \"127.0.0.1\""),
       "server.admin_listen", 2, "missing port"},
      {"misspelt server key", withServer("listn = \"127.0.0.1:1\""), "server.listn", 2,
       "unknown key (did you mean \"listen\"?)"},
      {"unknown server key", withServer("tls = true"), "server.tls", 2, "unknown key"},
      {"unknown server sub-table", withTail("[server.tls]\ncert = \"x\"\n"), "server.tls", 10,
       "unknown key"},
      // [log]
      {"bad log level", withLog("level = \"verbose\""), "log.level", 5,
       "must be one of trace, debug, info, warn, error, got \"verbose\""},
      {"bad log format", withLog("format = \"xml\""), "log.format", 5,
       "must be one of json, text, got \"xml\""},
      {"bad hint language", withLog("hint_language = \"fr\""), "log.hint_language", 5,
       "must be one of en, zh, got \"fr\""},
      {"access_log as a string", withLog("access_log = \"yes\""), "log.access_log", 5,
       "expected true or false, got a string"},
      {"expose_details as an integer", withLog("expose_details = 1"), "log.expose_details", 5,
       "expected true or false, got an integer"},
      {"unknown log key", withLog("colour = true"), "log.colour", 5, "unknown key"},
      {"zero failure_log_burst", withLog("failure_log_burst = 0"), "log.failure_log_burst", 5,
       "must be at least 1, got 0"},
      {"failure_log_burst as a string", withLog("failure_log_burst = \"10\""),
       "log.failure_log_burst", 5, "expected an integer, got a string"},
      {"failure_log_burst above uint32", withLog("failure_log_burst = 4294967296"),
       "log.failure_log_burst", 5, "must be between 1 and 4294967295"},
      {"zero failure_log_interval", withLog("failure_log_interval = \"0s\""),
       "log.failure_log_interval", 5, "must be greater than 0"},
      {"failure_log_interval without unit", withLog("failure_log_interval = \"10\""),
       "log.failure_log_interval", 5, "has no unit"},
      {"hint_catalog as an integer", withLog("hint_catalog = 1"), "log.hint_catalog", 5,
       "expected a string, got an integer"},
      {"missing hint catalog file", withLog("hint_catalog = \"/nonexistent/hints.toml\""),
       "log.hint_catalog", 5,
       "cannot read hint catalog \"/nonexistent/hints.toml\": No such file or directory"},
      {"hint catalog is a directory", withLog("hint_catalog = \"/\""), "log.hint_catalog", 5,
       "Is a directory"},
      // [hints.<cause>]
      {"hint for an unknown cause", withTail("[hints.conect_refused]\nen = \"x\"\n"),
       "hints.conect_refused", 10, "unknown cause (did you mean \"connect_refused\"?)"},
      {"hint for cause none", withTail("[hints.none]\nen = \"x\"\n"), "hints.none", 10,
       "unknown cause"},
      {"unknown key in a hint", withTail("[hints.connect_refused]\nurl = \"https://x\"\n"),
       "hints.connect_refused.url", 11, "unknown key"},
      {"hint text not a string", withTail("[hints.dns_failure]\nen = 5\n"), "hints.dns_failure.en",
       11, "expected a string, got an integer"},
      {"empty hint text", withTail("[hints.dns_failure]\nzh = \"\"\n"), "hints.dns_failure.zh", 11,
       "must not be empty"},
      {"multi-line hint text", withTail("[hints.dns_failure]\nen = \"a\\nb\"\n"),
       "hints.dns_failure.en", 11, "must be a single line"},
      {"misspelt placeholder", withTail("[hints.dns_failure]\nen = \"{endpont} fails\"\n"),
       "hints.dns_failure.en", 11, "unknown placeholder {endpont} (did you mean {endpoint}?)"},
      {"runbook with a space", withTail("[hints.dns_failure]\nrunbook = \"see wiki\"\n"),
       "hints.dns_failure.runbook", 11, "must be a URL without spaces"},
      {"hint as a string", withTail("[hints]\nno_route = \"x\"\n"), "hints.no_route", 11,
       "expected a table of en, zh and runbook such as [hints.no_route], got a string"},
      {"hints as a value", "hints = 1\n" + withTail(""), "hints", 1,
       "expected a [hints] table, got an integer"},
      // [[upstream]]
      {"day unit", withUpstream("connect_timeout = \"1d\""), "upstream[0].connect_timeout", 7,
       "unknown unit \"d\""},
      {"zero connect timeout", withUpstream("connect_timeout = \"0ms\""),
       "upstream[0].connect_timeout", 7, "must be greater than 0"},
      {"header timeout as integer", withUpstream("response_header_timeout = 15"),
       "upstream[0].response_header_timeout", 7, "expected a duration string"},
      {"fraction without unit", withUpstream("body_idle_timeout = \"1.5\""),
       "upstream[0].body_idle_timeout", 7, "has no unit"},
      {"negative request timeout", withUpstream("request_timeout = \"-1s\""),
       "upstream[0].request_timeout", 7, "negative duration"},
      {"zero max_connections", withUpstream("max_connections = 0"), "upstream[0].max_connections",
       7, "must be at least 1, got 0"},
      {"max_connections above uint32", withUpstream("max_connections = 5000000000"),
       "upstream[0].max_connections", 7, "must be between 1 and 4294967295, got 5000000000"},
      {"negative max_pending", withUpstream("max_pending = -1"), "upstream[0].max_pending", 7,
       "must be at least 0, got -1"},
      {"zero pending timeout", withUpstream("pending_timeout = \"0s\""),
       "upstream[0].pending_timeout", 7, "must be greater than 0"},
      {"garbage keepalive timeout", withUpstream("keepalive_idle_timeout = \"abc\""),
       "upstream[0].keepalive_idle_timeout", 7, "expected a duration such as"},
      {"negative max_idle_connections", withUpstream("max_idle_connections = -1"),
       "upstream[0].max_idle_connections", 7, "must be at least 0, got -1"},
      {"tiny response header limit", withUpstream("max_response_header_bytes = 512"),
       "upstream[0].max_response_header_bytes", 7, "must be at least 1024, got 512"},
      {"too many retries", withUpstream("retries = 6"), "upstream[0].retries", 7,
       "must be between 0 and 5, got 6"},
      {"negative retries", withUpstream("retries = -1"), "upstream[0].retries", 7,
       "must be between 0 and 5, got -1"},
      {"retries as float", withUpstream("retries = 1.0"), "upstream[0].retries", 7,
       "expected an integer, got a float"},
      {"misspelt upstream key", withUpstream("connect_timout = \"1s\""),
       "upstream[0].connect_timout", 7, "unknown key (did you mean \"connect_timeout\"?)"},
      {"duplicate upstream name",
       withTail("[[upstream]]\nname = \"app\"\nendpoints = [\"127.0.0.1:9\"]\n"),
       "upstream[1].name", 11, "duplicate upstream name \"app\" (first defined on line 8)"},
      {"upstream name with a space",
       withTail("[[upstream]]\nname = \"my app\"\nendpoints = [\"127.0.0.1:9\"]\n"
                "[[route]]\nupstream = \"app\"\n"),
       "upstream[1].name", 11, "must be non-empty and use only letters"},
      {"empty endpoints",
       withTail("[[upstream]]\nname = \"b\"\nendpoints = []\n[[route]]\nupstream = \"app\"\n"),
       "upstream[1].endpoints", 12, "must list at least one"},
      {"endpoints not an array",
       withTail("[[upstream]]\nname = \"b\"\nendpoints = \"127.0.0.1:9\"\n"
                "[[route]]\nupstream = \"app\"\n"),
       "upstream[1].endpoints", 12, "expected an array of \"host:port\" strings"},
      {"missing upstream name",
       withTail("[[upstream]]\nendpoints = [\"127.0.0.1:9\"]\n[[route]]\nupstream = \"app\"\n"),
       "upstream[1].name", 10, "required key is missing"},
      {"missing endpoints", withTail("[[upstream]]\nname = \"b\"\n[[route]]\nupstream = \"app\"\n"),
       "upstream[1].endpoints", 10, "required key is missing"},
      {"endpoint without port",
       withTail("[[upstream]]\nname = \"b\"\nendpoints = [\"127.0.0.1\"]\n"
                "[[route]]\nupstream = \"app\"\n"),
       "upstream[1].endpoints[0]", 12, "missing port in \"127.0.0.1\""},
      {"endpoint port 0",
       withTail("[[upstream]]\nname = \"b\"\nendpoints = [\"127.0.0.1:0\"]\n"
                "[[route]]\nupstream = \"app\"\n"),
       "upstream[1].endpoints[0]", 12, "port must be between 1 and 65535"},
      {"endpoint port too large",
       withTail("[[upstream]]\nname = \"b\"\nendpoints = [\"a:70000\"]\n"
                "[[route]]\nupstream = \"app\"\n"),
       "upstream[1].endpoints[0]", 12, "port must be a number between 0 and 65535"},
      {"unbracketed IPv6 endpoint",
       withTail("[[upstream]]\nname = \"b\"\nendpoints = [\"::1:80\"]\n"
                "[[route]]\nupstream = \"app\"\n"),
       "upstream[1].endpoints[0]", 12, "IPv6 addresses need brackets"},
      {"endpoint with bad name",
       withTail("[[upstream]]\nname = \"b\"\nendpoints = [\"a b:80\"]\n"
                "[[route]]\nupstream = \"app\"\n"),
       "upstream[1].endpoints[0]", 12, "is not a valid host name"},
      {"second endpoint on its own line is blamed there",
       withTail(
           "[[upstream]]\nname = \"b\"\nendpoints = [\n  \"127.0.0.1:1\",\n  \"999.1.1.1:80\",\n"
           "]\n[[route]]\nupstream = \"app\"\n"),
       "upstream[1].endpoints[1]", 14, "\"999.1.1.1\" is not a valid IPv4 address"},
      {"duplicate endpoint",
       withTail("[[upstream]]\nname = \"b\"\nendpoints = [\"127.0.0.1:1\", \"127.0.0.1:1\"]\n"
                "[[route]]\nupstream = \"app\"\n"),
       "upstream[1].endpoints[1]", 12, "duplicate address \"127.0.0.1:1\""},
      {"upstream as a single table",
       "[server]\nlisten = \"127.0.0.1:8080\"\n[upstream]\nname = 1\n", "upstream", 3,
       "expected [[upstream]] tables, got a table"},
      {"no upstream at all", "[server]\nlisten = \"127.0.0.1:8080\"\n", "upstream", 1,
       "at least one [[upstream]] is required"},
      // [[route]]
      {"prefix without slash", withTail("[[route]]\nprefix = \"api\"\nupstream = \"app\"\n"),
       "route[0].prefix", 11, "must start with '/', got \"api\""},
      {"empty prefix", withTail("[[route]]\nprefix = \"\"\nupstream = \"app\"\n"),
       "route[0].prefix", 11, "must start with '/'"},
      {"prefix with a query", withTail("[[route]]\nprefix = \"/a?b\"\nupstream = \"app\"\n"),
       "route[0].prefix", 11, "must be a plain path"},
      {"unknown upstream in route", withTail("[[route]]\nprefix = \"/\"\nupstream = \"nope\"\n"),
       "route[0].upstream", 12, "unknown upstream \"nope\" (known: app)"},
      {"route without upstream", withTail("[[route]]\nprefix = \"/\"\n"), "route[0].upstream", 10,
       "required key is missing"},
      {"route upstream as integer", withTail("[[route]]\nupstream = 1\n"), "route[0].upstream", 11,
       "expected a string, got an integer"},
      {"route host with port",
       withTail("[[route]]\nhost = \"api.example.com:8080\"\nupstream = \"app\"\n"),
       "route[0].host", 11, "must be a host name without a port"},
      {"route host wildcard", withTail("[[route]]\nhost = \"*.example.com\"\nupstream = \"app\"\n"),
       "route[0].host", 11, "no wildcards"},
      {"duplicate route",
       withTail("[[route]]\nprefix = \"/a\"\nupstream = \"app\"\n"
                "[[route]]\nprefix = \"/a\"\nupstream = \"app\"\n"),
       "route[1].prefix", 14, "duplicate route: route[0] already has prefix \"/a\" and no host"},
      {"duplicate route, host differs only in case",
       withTail("[[route]]\nhost = \"API.example.com\"\nupstream = \"app\"\n"
                "[[route]]\nhost = \"api.example.com.\"\nupstream = \"app\"\n"),
       "route[1].prefix", 13,
       "duplicate route: route[0] already has prefix \"/\" and host \"api.example.com\""},
      {"unknown route key", withTail("[[route]]\nupstream = \"app\"\nmethod = \"GET\"\n"),
       "route[0].method", 12, "unknown key"},
      {"several upstreams without routes",
       withTail("[[upstream]]\nname = \"b\"\nendpoints = [\"127.0.0.1:9\"]\n"), "route", 1,
       "no [[route]] given but there are 2 upstreams"},
      // top level
      {"unknown top-level table", withTail("[metrics]\nport = 1\n"), "metrics", 10,
       "unknown table"},
      {"misspelt top-level table", "[servr]\nlisten = \"127.0.0.1:8080\"\n" + withTail(""), "servr",
       1, "unknown table (did you mean \"server\"?)"},
      {"server as a value", "server = 1\n[[upstream]]\nname = \"a\"\nendpoints = [\"a:1\"]\n",
       "server", 1, "expected a [server] table, got an integer"},
      {"missing listen",
       "# header comment\n[server]\nworkers = 1\n[[upstream]]\nname = \"a\"\nendpoints = "
       "[\"a:1\"]\n",
       "server.listen", 2, "required key is missing"},
      {"missing [server]", "[[upstream]]\nname = \"a\"\nendpoints = [\"a:1\"]\n", "server.listen",
       1, "required key is missing"},
      {"listen by name",
       "[server]\nlisten = \"localhost:8080\"\n[[upstream]]\nname = \"a\"\nendpoints = "
       "[\"a:1\"]\n",
       "server.listen", 2, "a listen address must be an IP address"},
  };
  return cases;
}

TEST_CASE("every validation problem names its key, line and reason", "[unit][config]") {
  for (const auto& c : badCases()) {
    INFO(c.what << "\n" << c.toml);
    const auto problems = problemsOf(c.toml);
    REQUIRE_FALSE(problems.empty());
    const auto it = std::find_if(problems.begin(), problems.end(),
                                 [&c](const ConfigProblem& p) { return p.key == c.key; });
    std::string all;
    for (const auto& p : problems) all += p.format() + "\n";
    INFO("problems:\n" << all);
    REQUIRE(it != problems.end());
    CHECK(problems.size() == 1);
    CHECK(it->file == kFile);
    CHECK(it->line == c.line);
    CHECK_THAT(it->reason, Catch::Contains(c.reason_contains));
    CHECK(it->format() ==
          std::string(kFile) + ":" + std::to_string(c.line) + ": " + c.key + ": " + it->reason);
  }
}

TEST_CASE("problem format is FILE:LINE: KEY: reason", "[unit][config]") {
  const auto problems = problemsOf(withUpstream("retries = 9"));
  REQUIRE(problems.size() == 1);
  CHECK(problems[0].format() == "t.toml:7: upstream[0].retries: must be between 0 and 5, got 9");
}

TEST_CASE("a full config loads with every value", "[unit][config]") {
  const std::string text = R"(
[server]
listen = "0.0.0.0:8000"
admin_listen = "[::1]:9000"
workers = 4
drain_timeout = "3s"
client_header_timeout = "2500ms"
client_idle_timeout = "2m"
max_request_header_bytes = 8192
max_request_body_bytes = 1048576
dns_servers = ["10.96.0.10", "10.96.0.11:5353", "[fd00::1]", "[fd00::2]:54", "fd00::3"]
dns_refresh = "1m30s"

[log]
level = "debug"
format = "text"
access_log = true
hint_language = "zh"
expose_details = true
failure_log_burst = 3
failure_log_interval = "1m"

[[upstream]]
name = "app"
endpoints = ["127.0.0.1:8081", "backend.svc.cluster.local:80", "[::1]:8082"]
connect_timeout = "250ms"
response_header_timeout = "5s"
body_idle_timeout = "30s"
request_timeout = "1h"
max_connections = 10
max_pending = 0
pending_timeout = "1.5s"
keepalive_idle_timeout = "4s"
max_idle_connections = 0
max_response_header_bytes = 1024
retries = 0

[[upstream]]
name = "api-v2.internal_x"
endpoints = ["127.0.0.2:1"]

[[route]]
prefix = "/"
upstream = "app"

[[route]]
prefix = "/v2/"
host = "API.Example.com"
upstream = "api-v2.internal_x"
)";
  const Config config = loadConfigString(text, "full.toml");
  CHECK(config.source_file == "full.toml");

  const ServerConfig& s = config.server;
  CHECK(s.listen == HostPort{"0.0.0.0", 8000, true});
  REQUIRE(s.admin_listen.has_value());
  CHECK(*s.admin_listen == HostPort{"::1", 9000, true});
  CHECK(s.workers == 4);
  CHECK(s.drain_timeout == Duration{3'000});
  CHECK(s.client_header_timeout == Duration{2'500});
  CHECK(s.client_idle_timeout == Duration{120'000});
  CHECK(s.max_request_header_bytes == 8192);
  CHECK(s.max_request_body_bytes == 1048576);
  CHECK(s.dns_servers == std::vector<HostPort>{{"10.96.0.10", 53, true},
                                               {"10.96.0.11", 5353, true},
                                               {"fd00::1", 53, true},
                                               {"fd00::2", 54, true},
                                               {"fd00::3", 53, true}});
  CHECK(s.dns_refresh == Duration{90'000});

  CHECK(config.log.level == "debug");
  CHECK(config.log.format == "text");
  CHECK(config.log.access_log);
  CHECK(config.log.hint_language == "zh");
  CHECK(config.log.expose_details);
  CHECK(config.log.failure_log_burst == 3);
  CHECK(config.log.failure_log_interval == Duration{60'000});

  REQUIRE(config.upstreams.size() == 2);
  const UpstreamConfig& u = config.upstreams[0];
  CHECK(u.name == "app");
  CHECK(u.endpoints == std::vector<HostPort>{{"127.0.0.1", 8081, true},
                                             {"backend.svc.cluster.local", 80, false},
                                             {"::1", 8082, true}});
  CHECK(u.connect_timeout == Duration{250});
  CHECK(u.response_header_timeout == Duration{5'000});
  CHECK(u.body_idle_timeout == Duration{30'000});
  CHECK(u.request_timeout == Duration{3'600'000});
  CHECK(u.max_connections == 10);
  CHECK(u.max_pending == 0);
  CHECK(u.pending_timeout == Duration{1'500});
  CHECK(u.keepalive_idle_timeout == Duration{4'000});
  CHECK(u.max_idle_connections == 0);
  CHECK(u.max_response_header_bytes == 1024);
  CHECK(u.retries == 0);
  CHECK(config.upstreams[1].name == "api-v2.internal_x");

  REQUIRE(config.routes.size() == 2);
  CHECK(config.routes[0].prefix == "/");
  CHECK_FALSE(config.routes[0].host.has_value());
  CHECK(config.routes[0].upstream == "app");
  CHECK(config.routes[1].prefix == "/v2/");
  CHECK(config.routes[1].host == std::optional<std::string>("api.example.com"));
  CHECK(config.routes[1].upstream == "api-v2.internal_x");

  CHECK(config.findUpstream("app") == &config.upstreams[0]);
  CHECK(config.findUpstream("api-v2.internal_x") == &config.upstreams[1]);
  CHECK(config.findUpstream("nope") == nullptr);
}

TEST_CASE("a minimal config gets the documented defaults and an implicit route", "[unit][config]") {
  const Config config = loadConfigString(
      "[server]\nlisten = \"127.0.0.1:0\"\n[[upstream]]\nname = \"app\"\n"
      "endpoints = [\"127.0.0.1:8081\"]\n",
      "min.toml");
  const ServerConfig& s = config.server;
  CHECK(s.listen == HostPort{"127.0.0.1", 0, true});
  CHECK(s.admin_listen == std::optional<HostPort>(HostPort{"127.0.0.1", 9901, true}));
  CHECK(s.workers == 1);
  CHECK(s.drain_timeout == Duration{10'000});
  CHECK(s.client_header_timeout == Duration{10'000});
  CHECK(s.client_idle_timeout == Duration{60'000});
  CHECK(s.max_request_header_bytes == 65536);
  CHECK(s.max_request_body_bytes == 0);
  CHECK(s.dns_servers.empty());
  CHECK(s.dns_refresh == Duration{30'000});

  CHECK(config.log.level == "info");
  CHECK(config.log.format == "json");
  CHECK_FALSE(config.log.access_log);
  CHECK(config.log.hint_language == "en");
  CHECK_FALSE(config.log.expose_details);
  CHECK(config.log.hint_catalog.empty());
  CHECK(config.log.failure_log_burst == 10);
  CHECK(config.log.failure_log_interval == Duration{10'000});
  CHECK(config.hint_overrides.empty());

  REQUIRE(config.upstreams.size() == 1);
  const UpstreamConfig& u = config.upstreams[0];
  CHECK(u.connect_timeout == Duration{1'000});
  CHECK(u.response_header_timeout == Duration{15'000});
  CHECK(u.body_idle_timeout == Duration{60'000});
  CHECK(u.request_timeout == Duration{0});
  CHECK(u.max_connections == 256);
  CHECK(u.max_pending == 1024);
  CHECK(u.pending_timeout == Duration{5'000});
  CHECK(u.keepalive_idle_timeout == Duration{30'000});
  CHECK_FALSE(u.max_idle_connections);  // sized from demand
  CHECK(u.max_response_header_bytes == 32768);
  CHECK(u.retries == 1);

  REQUIRE(config.routes.size() == 1);
  CHECK(config.routes[0].prefix == "/");
  CHECK_FALSE(config.routes[0].host.has_value());
  CHECK(config.routes[0].upstream == "app");
}

TEST_CASE("admin_listen = \"\" disables the admin listener", "[unit][config]") {
  const Config config = loadConfigString(withServer("admin_listen = \"\""), kFile);
  CHECK_FALSE(config.server.admin_listen.has_value());
}

TEST_CASE("workers = 0 resolves to one per core", "[unit][config]") {
  const Config config = loadConfigString(withServer("workers = 0"), kFile);
  const unsigned cores = std::thread::hardware_concurrency();
  CHECK(config.server.workers == std::clamp(cores, 1U, 256U));
}

TEST_CASE("route = [] with one upstream still gets the implicit route", "[unit][config]") {
  const Config config = loadConfigString(
      "route = []\n[server]\nlisten = \"127.0.0.1:8080\"\n[[upstream]]\nname = \"app\"\n"
      "endpoints = [\"127.0.0.1:8081\"]\n",
      kFile);
  REQUIRE(config.routes.size() == 1);
  CHECK(config.routes[0].upstream == "app");
}

TEST_CASE("all problems are reported at once, in file order", "[unit][config]") {
  const std::string with_server =
      "[server]\n"                          // 1
      "workers = 999\n"                     // 2
      "listen = \"127.0.0.1:8080\"\n"       // 3
      "[log]\n"                             // 4
      "\n"                                  // 5
      "[[upstream]]\n"                      // 6
      "retries = 10\n"                      // 7
      "name = \"app\"\n"                    // 8
      "endpoints = [\"127.0.0.1:8081\"]\n"  // 9
      "[[route]]\n"                         // 10
      "prefix = \"x\"\n";                   // 11
  const auto problems = problemsOf(with_server);
  std::vector<std::string> lines;
  for (const auto& p : problems) lines.push_back(p.format());
  CHECK(lines == std::vector<std::string>{
                     "t.toml:2: server.workers: must be between 0 and 256, got 999",
                     "t.toml:7: upstream[0].retries: must be between 0 and 5, got 10",
                     "t.toml:10: route[0].upstream: required key is missing",
                     "t.toml:11: route[0].prefix: must start with '/', got \"x\"",
                 });
  try {
    (void)loadConfigString(with_server, kFile);
    FAIL("expected ConfigError");
  } catch (const ConfigError& e) {
    CHECK(std::string(e.what()) ==
          "t.toml:2: server.workers: must be between 0 and 256, got 999\n"
          "t.toml:7: upstream[0].retries: must be between 0 and 5, got 10\n"
          "t.toml:10: route[0].upstream: required key is missing\n"
          "t.toml:11: route[0].prefix: must start with '/', got \"x\"");
  }
}

TEST_CASE("TOML syntax errors are reported with their line, never as toml11 exceptions",
          "[unit][config]") {
  struct SyntaxCase {
    const char* what;
    std::string toml;
    int line;
    std::string reason_contains;
  };
  const std::vector<SyntaxCase> cases = {
      {"missing value", "[server]\nlisten = \"127.0.0.1:1\"\nworkers =\n", 3,
       "missing value after key-value separator"},
      {"garbage after value", "[server]\n\n\nlisten = \"a:1\" x\n", 4, "invalid line format"},
      {"unterminated string", "[log]\nlevel = \"info\nformat = \"json\"\n", 2, "TOML syntax error"},
      {"key defined twice", "[server]\nlisten = \"a:1\"\nlisten = \"b:2\"\n", 3,
       "value (\"listen\") already exists"},
      {"table defined twice", "[server]\n[log]\n[server]\n", 3, "already exists"},
      {"bad key character", "[server]\nlisten = \"a:1\"\n$x = 1\n", 3, "TOML syntax error"},
      // TOML is UTF-8 (toml.io, spec 1.0: "must be a valid UTF-8 encoded Unicode document").
      // toml11 reads past the end of its buffer on a literal-string key of invalid bytes: found
      // by tests/fuzz/config_fuzz.cc (corpus/config_fuzz/regression-invalid-utf8-literal-key).
      {"invalid UTF-8 in a literal key", "[log]\n'S3.6s\xff\xff\xff\xff' = 1\n", 2, "UTF-8"},
      {"invalid UTF-8 in a value", "[log]\nlevel = \"info\"\nformat = \"j\xc3\"\n", 3, "UTF-8"},
      {"a lone continuation byte", "\x80", 1, "UTF-8"},
  };
  for (const auto& c : cases) {
    INFO(c.what);
    std::vector<ConfigProblem> problems;
    try {
      (void)loadConfigString(c.toml, kFile);
    } catch (const ConfigError& e) {
      problems = e.problems();
    } catch (const std::exception& e) {
      FAIL("escaped exception: " << e.what());
    }
    REQUIRE(problems.size() == 1);
    INFO(problems[0].format());
    CHECK(problems[0].key == "syntax");
    CHECK(problems[0].line == c.line);
    CHECK_THAT(problems[0].reason, Catch::StartsWith("TOML syntax error: "));
    CHECK_THAT(problems[0].reason, Catch::Contains(c.reason_contains));
    CHECK(problems[0].reason.find('\n') == std::string::npos);
  }
}

TEST_CASE("an empty file lacks [server] and [[upstream]]", "[unit][config]") {
  const auto problems = problemsOf("");
  REQUIRE(problems.size() == 2);
  CHECK(problems[0].format() == "t.toml:1: server.listen: required key is missing");
  CHECK(problems[1].format() == "t.toml:1: upstream: at least one [[upstream]] is required");
}

TEST_CASE("loadConfigFile on a missing file gives a clear problem", "[unit][config]") {
  const std::string path = "/nonexistent/dir/triaged.toml";
  try {
    (void)loadConfigFile(path);
    FAIL("expected ConfigError");
  } catch (const ConfigError& e) {
    REQUIRE(e.problems().size() == 1);
    const ConfigProblem& p = e.problems()[0];
    CHECK(p.file == path);
    CHECK(p.key == "file");
    CHECK(p.format() == path + ":0: file: cannot open config file: No such file or directory");
  }
}

TEST_CASE("the example config loads and documents every key", "[unit][config]") {
  const Config config = loadConfigFile(TRIAGED_SOURCE_DIR "/config/triaged.example.toml");
  CHECK(config.server.listen == HostPort{"127.0.0.1", 8080, true});
  CHECK(config.upstreams.size() == 2);
  CHECK(config.routes.size() == 2);
  // Every example value equals the default, so the comments' "Default ..." cannot drift.
  const UpstreamConfig defaults;
  const UpstreamConfig& app = config.upstreams[0];
  CHECK(app.connect_timeout == defaults.connect_timeout);
  CHECK(app.response_header_timeout == defaults.response_header_timeout);
  CHECK(app.body_idle_timeout == defaults.body_idle_timeout);
  CHECK(app.request_timeout == defaults.request_timeout);
  CHECK(app.max_connections == defaults.max_connections);
  CHECK(app.max_pending == defaults.max_pending);
  CHECK(app.pending_timeout == defaults.pending_timeout);
  CHECK(app.keepalive_idle_timeout == defaults.keepalive_idle_timeout);
  CHECK(app.max_idle_connections.has_value() == defaults.max_idle_connections.has_value());
  CHECK(app.max_response_header_bytes == defaults.max_response_header_bytes);
  CHECK(app.retries == defaults.retries);
  const ServerConfig server_defaults;
  CHECK(config.server.admin_listen == server_defaults.admin_listen);
  CHECK(config.server.workers == server_defaults.workers);
  CHECK(config.server.drain_timeout == server_defaults.drain_timeout);
  CHECK(config.server.client_header_timeout == server_defaults.client_header_timeout);
  CHECK(config.server.client_idle_timeout == server_defaults.client_idle_timeout);
  CHECK(config.server.max_request_header_bytes == server_defaults.max_request_header_bytes);
  CHECK(config.server.max_request_body_bytes == server_defaults.max_request_body_bytes);
  CHECK(config.server.dns_refresh == server_defaults.dns_refresh);
  const LogConfig log_defaults;
  CHECK(config.log.level == log_defaults.level);
  CHECK(config.log.format == log_defaults.format);
  CHECK(config.log.access_log == log_defaults.access_log);
  CHECK(config.log.hint_language == log_defaults.hint_language);
  CHECK(config.log.expose_details == log_defaults.expose_details);
  CHECK(config.log.hint_catalog == log_defaults.hint_catalog);
  CHECK(config.log.failure_log_burst == log_defaults.failure_log_burst);
  CHECK(config.log.failure_log_interval == log_defaults.failure_log_interval);
  CHECK(config.hint_overrides.empty());
}

TEST_CASE("parseHostPort accepts IPv4, bracketed IPv6 and names", "[unit][config]") {
  struct Good {
    std::string text;
    HostPort expected;
  };
  const std::vector<Good> good = {
      {"1.2.3.4:80", {"1.2.3.4", 80, true}},
      {"[::1]:80", {"::1", 80, true}},
      {"[fe80::1:2]:65535", {"fe80::1:2", 65535, true}},
      {"name:80", {"name", 80, false}},
      {"my-svc.ns_1.svc.cluster.local:8080", {"my-svc.ns_1.svc.cluster.local", 8080, false}},
      {"0.0.0.0:0", {"0.0.0.0", 0, true}},
  };
  for (const auto& g : good) {
    INFO(g.text);
    const auto parsed = parseHostPort(g.text);
    REQUIRE(parsed.ok());
    CHECK(*parsed == g.expected);
  }
  const std::vector<std::string> bad = {
      "",        "1.2.3.4", "1.2.3.4:",     ":80",        "::1:80",     "[::1]",
      "[::1]80", "[::1:80", "[nope]:80",    "1.2.3.4:-1", "host:65536", "host:8o",
      "a b:80",  "a/b:80",  "999.1.1.1:80", "-host:80",   "host:080000"};
  for (const auto& text : bad) {
    INFO(text);
    const auto parsed = parseHostPort(text);
    CHECK_FALSE(parsed.ok());
    if (!parsed.ok()) CHECK_FALSE(parsed.error().message.empty());
  }
}

TEST_CASE("HostPort::toString brackets IPv6 again", "[unit][config]") {
  CHECK(HostPort{"1.2.3.4", 80, true}.toString() == "1.2.3.4:80");
  CHECK(HostPort{"::1", 8080, true}.toString() == "[::1]:8080");
  CHECK(HostPort{"svc.local", 0, false}.toString() == "svc.local:0");
}

// A scratch directory removed at the end of the test.
class TempDir {
 public:
  TempDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "triaged-hint-XXXXXX").string();
    REQUIRE(mkdtemp(pattern.data()) != nullptr);
    path_ = pattern;
  }
  ~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  std::string write(const std::string& name, const std::string& text) const {
    const auto file = path_ / name;
    std::ofstream(file, std::ios::binary) << text;
    return file.string();
  }
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

std::vector<std::string> catalogProblems(const std::string& text) {
  try {
    (void)loadHintCatalog(text, "hints.toml");
  } catch (const ConfigError& e) {
    std::vector<std::string> lines;
    for (const auto& p : e.problems()) lines.push_back(p.format());
    return lines;
  }
  return {};
}

TEST_CASE("[hints.<cause>] overrides are loaded and applied over the catalog",
          "[unit][config][hint]") {
  const Config config = loadConfigString(
      withTail("[hints.connect_refused]\n"
               "runbook = \"https://wiki.example.com/runbooks/{upstream}/{cause}\"\n"
               "en = \"{status}: {endpoint} refused; page the app team.\"\n"
               "[hints.no_route]\n"
               "zh = \"404：{path} 没有路由。\"\n"),
      kFile);
  REQUIRE(config.hint_overrides.size() == 2);
  const diagnose::HintText& refused = config.hint_overrides.at("connect_refused");
  CHECK(refused.en == "{status}: {endpoint} refused; page the app team.");
  CHECK(refused.zh.empty());
  CHECK(refused.runbook == "https://wiki.example.com/runbooks/{upstream}/{cause}");
  CHECK(config.hint_overrides.at("no_route").zh == "404：{path} 没有路由。");

  const diagnose::HintCatalog catalog = buildHintCatalog(config);
  const auto fields = diagnose::HintFields::of({{"status", "502"},
                                                {"endpoint", "10.0.3.7:8080"},
                                                {"upstream", "app"},
                                                {"cause", "connect_refused"},
                                                {"path", "/x"}});
  CHECK(catalog.render(diagnose::FailureCause::ConnectRefused, "en", fields) ==
        "502: 10.0.3.7:8080 refused; page the app team. Runbook: "
        "https://wiki.example.com/runbooks/app/connect_refused");
  // zh was not overridden: the built-in zh text, with the runbook.
  const std::string zh = catalog.render(diagnose::FailureCause::ConnectRefused, "zh", fields);
  CHECK_THAT(zh, Catch::StartsWith("502："));
  CHECK_THAT(zh,
             Catch::EndsWith(" Runbook: https://wiki.example.com/runbooks/app/connect_refused"));
  CHECK(catalog.find("no_route")->en == defaultHintCatalog().find("no_route")->en);
  CHECK(catalog.render(diagnose::FailureCause::NoRoute, "zh", fields) == "404：/x 没有路由。");
  // Causes nobody overrode are the built-in ones.
  CHECK(catalog.find("dns_failure")->en == defaultHintCatalog().find("dns_failure")->en);
  CHECK(catalog.size() == defaultHintCatalog().size());
}

TEST_CASE("a config without hint settings builds the built-in catalog", "[unit][config][hint]") {
  const Config config = loadConfigString(withTail(""), kFile);
  const diagnose::HintCatalog catalog = buildHintCatalog(config);
  CHECK(catalog.size() == defaultHintCatalog().size());
  CHECK(catalog.find("stale_keepalive")->en == defaultHintCatalog().find("stale_keepalive")->en);
}

TEST_CASE("hint catalog problems name file, line and key", "[unit][config][hint]") {
  const std::string text =
      "[connect_refused]\n"                   // 1
      "en = \"502 {endpoint}\"\n"             // 2
      "tone = \"calm\"\n"                     // 3
      "[conect_timeout]\n"                    // 4
      "en = \"x\"\n"                          // 5
      "[dns_failure]\n"                       // 6
      "en = 5\n"                              // 7
      "zh = \"{nam}\"\n"                      // 8
      "[no_route]\n"                          // 9
      "runbook = [\"https://a\"]\n"           // 10
      "stale_keepalive = \"not a table\"\n";  // 11 (still inside [no_route])
  CHECK(catalogProblems(text) ==
        std::vector<std::string>{
            "hints.toml:3: connect_refused.tone: unknown key",
            "hints.toml:4: conect_timeout: unknown cause (did you mean \"connect_timeout\"?)",
            "hints.toml:7: dns_failure.en: expected a string, got an integer",
            "hints.toml:8: dns_failure.zh: unknown placeholder {nam}; write {{ for a literal brace",
            "hints.toml:10: no_route.runbook: expected a string, got an array",
            "hints.toml:11: no_route.stale_keepalive: unknown key",
        });
  CHECK(catalogProblems("[server]\nlisten = 1\n") ==
        std::vector<std::string>{"hints.toml:1: server: unknown cause"});
  CHECK(catalogProblems("connect_refused = \"x\"\n") ==
        std::vector<std::string>{"hints.toml:1: connect_refused: expected a table of en, zh and "
                                 "runbook such as [connect_refused], got a string"});
  const auto syntax = catalogProblems("[connect_refused]\nen = \"unterminated\n");
  REQUIRE(syntax.size() == 1);
  CHECK_THAT(syntax[0], Catch::StartsWith("hints.toml:2: syntax: TOML syntax error"));
  CHECK(catalogProblems("").empty());
  CHECK(loadHintCatalog("", "empty.toml").size() == 0);
}

TEST_CASE("a hint catalog file loads, and its texts replace the built-in ones",
          "[unit][config][hint]") {
  const TempDir dir;
  const std::string catalog_path =
      dir.write("team-hints.toml",
                "[connect_refused]\nen = \"502: {endpoint} is down, call ops.\"\n"
                "[local_overload]\nrunbook = \"https://wiki/overload\"\n");
  const diagnose::HintCatalog file_catalog = loadHintCatalogFile(catalog_path);
  CHECK(file_catalog.size() == 2);
  CHECK(file_catalog.find("connect_refused")->en == "502: {endpoint} is down, call ops.");

  // A relative path is taken relative to the config file's directory.
  const std::string config_path = dir.write(
      "triaged.toml", configWith("", "hint_catalog = \"team-hints.toml\"") +
                          "[hints.connect_refused]\nrunbook = \"https://wiki/refused\"\n");
  const Config config = loadConfigFile(config_path);
  CHECK(config.log.hint_catalog == catalog_path);
  const diagnose::HintCatalog catalog = buildHintCatalog(config);
  CHECK(catalog.render(diagnose::FailureCause::ConnectRefused, "en",
                       diagnose::HintFields::of({{"endpoint", "a:1"}})) ==
        "502: a:1 is down, call ops. Runbook: https://wiki/refused");
  // What the file leaves out keeps the built-in text.
  CHECK(catalog.find("connect_refused")->zh == defaultHintCatalog().find("connect_refused")->zh);
  CHECK(catalog.find("local_overload")->en == defaultHintCatalog().find("local_overload")->en);
  CHECK(catalog.find("local_overload")->runbook == "https://wiki/overload");
  CHECK(catalog.size() == defaultHintCatalog().size());

  // An absolute path is kept as given.
  const Config absolute =
      loadConfigString(withLog("hint_catalog = \"" + catalog_path + "\""), kFile);
  CHECK(absolute.log.hint_catalog == catalog_path);

  // The file vanishing after validation is reported by buildHintCatalog, not ignored.
  std::filesystem::remove(catalog_path);
  try {
    (void)buildHintCatalog(config);
    FAIL("expected ConfigError");
  } catch (const ConfigError& e) {
    REQUIRE(e.problems().size() == 1);
    CHECK(e.problems()[0].format() ==
          catalog_path + ":0: file: cannot read hint catalog: No such file or directory");
  }
}

TEST_CASE("an invalid hint catalog file is a config problem", "[unit][config][hint]") {
  const TempDir dir;
  const std::string catalog_path =
      dir.write("bad.toml", "[connect_refused]\nen = \"ok\"\n[nope]\nen = \"x\"\n");
  const std::string config_path =
      dir.write("triaged.toml", configWith("", "hint_catalog = \"bad.toml\"", "retries = 9"));
  std::vector<std::string> lines;
  try {
    (void)loadConfigFile(config_path);
    FAIL("expected ConfigError");
  } catch (const ConfigError& e) {
    for (const auto& p : e.problems()) lines.push_back(p.format());
  }
  CHECK(lines == std::vector<std::string>{
                     config_path + ":5: log.hint_catalog: hint catalog \"" + catalog_path +
                         "\" is invalid (1 problem, listed after this file's)",
                     config_path + ":7: upstream[0].retries: must be between 0 and 5, got 9",
                     catalog_path + ":3: nope: unknown cause",
                 });
}

TEST_CASE("the example's commented [hints] override is valid", "[unit][config][hint]") {
  std::ifstream file(TRIAGED_SOURCE_DIR "/config/triaged.example.toml");
  std::string text((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
  const auto start = text.find("# [hints.connect_refused]\n");
  REQUIRE(start != std::string::npos);
  // Uncomment the example table (the last lines of the file).
  std::string uncommented = text.substr(0, start);
  std::istringstream rest(text.substr(start));
  for (std::string line; std::getline(rest, line);) uncommented += line.substr(2) + "\n";
  const Config config = loadConfigString(uncommented, "example.toml");
  REQUIRE(config.hint_overrides.count("connect_refused") == 1);
  const diagnose::HintCatalog catalog = buildHintCatalog(config);
  const std::string hint = catalog.render(diagnose::FailureCause::ConnectRefused, "en",
                                          diagnose::HintFields::of({{"status", "502"},
                                                                    {"endpoint", "a:1"},
                                                                    {"errno", "ECONNREFUSED"},
                                                                    {"upstream", "app"},
                                                                    {"cause", "connect_refused"}}));
  CHECK(hint ==
        "502: nothing listens on a:1 (ECONNREFUSED). Page the owners of app. Runbook: "
        "https://wiki.example.com/runbooks/triaged/connect_refused");
}

}  // namespace
}  // namespace triaged::config
