#include "triaged/config/config_json.h"

#include <catch2/catch.hpp>
#include <string>

#include "triaged/config/config_loader.h"

namespace triaged::config {
namespace {

// Braces and brackets balance and nest properly outside strings, strings close, and no raw
// control characters appear inside strings. Not a parser; enough to catch writer slips.
bool structurallyValidJson(const std::string& text) {
  std::string stack;
  bool in_string = false;
  bool escaped = false;
  for (const char c : text) {
    if (in_string) {
      if (escaped) {
        escaped = false;
      } else if (c == '\\') {
        escaped = true;
      } else if (c == '"') {
        in_string = false;
      } else if (static_cast<unsigned char>(c) < 0x20) {
        return false;
      }
      continue;
    }
    switch (c) {
      case '"':
        in_string = true;
        break;
      case '{':
        stack += '}';
        break;
      case '[':
        stack += ']';
        break;
      case '}':
      case ']':
        if (stack.empty() || stack.back() != c) return false;
        stack.pop_back();
        break;
      default:
        break;
    }
  }
  return !in_string && stack.empty();
}

TEST_CASE("durationToString uses the largest exact unit", "[unit][config_json]") {
  CHECK(durationToString(Duration{0}) == "0s");
  CHECK(durationToString(Duration{1'500}) == "1500ms");
  CHECK(durationToString(Duration{250}) == "250ms");
  CHECK(durationToString(Duration{10'000}) == "10s");
  CHECK(durationToString(Duration{90'000}) == "90s");
  CHECK(durationToString(Duration{120'000}) == "2m");
  CHECK(durationToString(Duration{3'600'000}) == "1h");
}

TEST_CASE("the example config renders every section", "[unit][config_json]") {
  const Config config = loadConfigFile(TRIAGED_SOURCE_DIR "/config/triaged.example.toml");
  const std::string json = configToJson(config);
  INFO(json);
  CHECK(structurallyValidJson(json));
  CHECK(json.front() == '{');
  CHECK(json.substr(json.size() - 2) == "}\n");
  for (const char* expected : {
           R"(  "server": {)",
           R"(    "listen": "127.0.0.1:8080",)",
           R"(    "admin_listen": "127.0.0.1:9901",)",
           R"(    "workers": 1,)",
           R"(    "drain_timeout": "10s",)",
           R"(    "client_idle_timeout": "1m",)",  // 60s: whole minutes
           R"(    "max_request_header_bytes": 65536,)",
           R"(    "dns_servers": [],)",
           R"(    "level": "info",)",
           R"(    "access_log": false,)",
           R"(    "failure_log_interval": "10s")",
           R"(      "name": "app",)",
           R"(        "127.0.0.1:8081",)",
           R"(        "127.0.0.1:8082")",
           R"(      "connect_timeout": "1s",)",
           R"(      "request_timeout": "0s",)",
           R"(      "max_response_header_bytes": 32768,)",
           R"(      "name": "api",)",
           R"(      "host": null,)",
           R"(      "prefix": "/v1/",)",
           R"(      "host": "api.example.com",)",
           R"(  "hint_overrides": [])",
       }) {
    CHECK_THAT(json, Catch::Contains(expected));
  }
}

TEST_CASE("disabled admin, minutes, DNS servers and hint overrides", "[unit][config_json]") {
  Config config;
  config.source_file = R"(/etc/tri"aged\x.toml)";
  config.server.listen = HostPort{"::1", 8080, true};
  config.server.admin_listen.reset();
  config.server.dns_servers = {HostPort{"10.96.0.10", 53, true}};
  config.server.client_idle_timeout = Duration{120'000};
  config.log.level = "debug\n";
  config.hint_overrides["connect_refused"] = diagnose::HintText{"en \"x\"", "", ""};
  config.hint_overrides["stale_keepalive"] = diagnose::HintText{};
  const std::string json = configToJson(config);
  INFO(json);
  CHECK(structurallyValidJson(json));
  CHECK_THAT(json, Catch::Contains(R"("source_file": "/etc/tri\"aged\\x.toml")"));
  CHECK_THAT(json, Catch::Contains(R"("listen": "[::1]:8080")"));
  CHECK_THAT(json, Catch::Contains(R"("admin_listen": null)"));
  CHECK_THAT(json, Catch::Contains("\"dns_servers\": [\n      \"10.96.0.10:53\"\n    ]"));
  CHECK_THAT(json, Catch::Contains(R"("client_idle_timeout": "2m")"));
  CHECK_THAT(json, Catch::Contains(R"("level": "debug\n")"));
  CHECK_THAT(json, Catch::Contains(R"("upstreams": [])"));
  CHECK_THAT(json,
             Catch::Contains(
                 "\"hint_overrides\": [\n    \"connect_refused\",\n    \"stale_keepalive\"\n  ]"));
  CHECK_THAT(json, !Catch::Contains("en \\\"x\\\""));  // cause names only, not the texts
}

}  // namespace
}  // namespace triaged::config
