#include "triaged/diagnose/triage_hint.h"

#include <algorithm>
#include <catch2/catch.hpp>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

#include "triaged/config/config_loader.h"
#include "triaged/diagnose/failure_table.h"

namespace triaged::diagnose {
namespace {

std::vector<FailureCause> everyCause() {
  std::vector<FailureCause> causes;
  for (const auto& info : diagnose::allCauses()) causes.push_back(info.cause);
  return causes;
}

// Every placeholder filled with a plausible value, as the session fills them.
HintFields fullFields(FailureCause cause) {
  const int table_status = causeInfo(cause).status;
  return HintFields::of({
      {"upstream", "app"},
      {"endpoint", "10.0.3.7:8080"},
      {"status", std::to_string(table_status == 0 ? 502 : table_status)},
      {"cause", std::string(causeName(cause))},
      {"phase", "connect_upstream"},
      {"errno", "ECONNREFUSED"},
      {"errno_text", "Connection refused"},
      {"connect_ms", "0.2"},
      {"header_ms", "12.5"},
      {"total_ms", "15004.1"},
      {"idle_ms", "4987"},
      {"requests_on_connection", "17"},
      {"request_bytes_sent", "312"},
      {"response_bytes_received", "65536"},
      {"method", "GET"},
      {"path", "/v1/orders"},
      {"request_id", "7f3a9c2e1b4d5a60"},
      {"connect_timeout", "1s"},
      {"response_header_timeout", "15s"},
      {"body_idle_timeout", "60s"},
      {"request_timeout", "30s"},
      {"keepalive_idle_timeout", "30s"},
      {"max_connections", "256"},
      {"max_pending", "1024"},
      {"pending_timeout", "5s"},
      {"dns_error", "NXDOMAIN"},
      {"hop", "ingress-nginx"},
      {"retry_after", "120"},
      {"detail", "invalid status line"},
      {"client", "192.0.2.10:53122"},
      {"retry", "not retried: retries = 0"},
      {"upstream_idle_close", "about 4.9 s (learned from the connections it closed)"},
      {"tls_problem", "the certificate CN=app expired on 2026-01-02T00:00:00Z"},
      {"tls_server_name", "app.internal"},
      {"tls_subject", "CN=app"},
      {"tls_issuer", "CN=Example CA"},
      {"tls_not_before", "2025-01-02T00:00:00Z"},
      {"tls_not_after", "2026-01-02T00:00:00Z"},
      {"tls_names", "DNS:app.internal"},
      {"tls_alert", "certificate required (116)"},
      {"tls_received", "HTTP/1.1 400 Bad"},
      {"tls_ca", "/etc/triaged/ca.pem"},
  });
}

bool hasCjk(const std::string& text) {
  // UTF-8 lead bytes 0xE4..0xE9 start the CJK Unified Ideographs block (U+4E00..U+9FFF).
  return std::any_of(text.begin(), text.end(), [](char c) {
    const auto byte = static_cast<unsigned char>(c);
    return byte >= 0xE4 && byte <= 0xE9;
  });
}

const HintCatalog& builtin() { return config::defaultHintCatalog(); }

TEST_CASE("the built-in catalog has en and zh for every cause", "[unit][hint]") {
  CHECK(!defaultHintCatalogToml().empty());
  // Every cause, and the events that carry a hint of their own.
  CHECK(builtin().size() == everyCause().size() + eventHintNames().size());
  for (const auto event : eventHintNames()) {
    const HintText* text = builtin().find(event);
    REQUIRE(text != nullptr);
    CHECK_FALSE(text->en.empty());
    CHECK_FALSE(text->zh.empty());
  }
  CHECK(builtin().find("none") == nullptr);
  for (const FailureCause cause : everyCause()) {
    const std::string name(causeName(cause));
    INFO(name);
    const HintText* text = builtin().find(name);
    REQUIRE(text != nullptr);
    CHECK_FALSE(text->en.empty());
    CHECK_FALSE(text->zh.empty());
    CHECK(text->runbook.empty());
    CHECK(text->en != text->zh);
    CHECK(hasCjk(text->zh));
    CHECK_FALSE(hasCjk(text->en));
  }
}

TEST_CASE("every built-in hint renders completely with a full field set", "[unit][hint]") {
  for (const FailureCause cause : everyCause()) {
    const HintFields fields = fullFields(cause);
    for (const char* language : {"en", "zh"}) {
      const std::string hint = builtin().render(cause, language, fields);
      INFO(causeName(cause) << " [" << language << "]: " << hint);
      CHECK_FALSE(hint.empty());
      CHECK(hint.find('?') == std::string::npos);
      CHECK(hint.find('{') == std::string::npos);
      CHECK(hint.find('}') == std::string::npos);
      CHECK(hint.find('\n') == std::string::npos);
      // It opens with the status the client got (the note's steps are per status).
      CHECK_THAT(hint, Catch::StartsWith(fields.status));
      // 1-3 sentences: it is one field of one log line.
      CHECK(hint.size() < 700);
    }
  }
}

TEST_CASE("connect_refused names the address and the errno", "[unit][hint]") {
  const HintFields fields = HintFields::of({{"endpoint", "10.0.3.7:8080"},
                                            {"errno", "ECONNREFUSED"},
                                            {"connect_ms", "0.2"},
                                            {"upstream", "app"}});
  const std::string hint = builtin().render(FailureCause::ConnectRefused, "en", fields);
  CHECK_THAT(hint, Catch::StartsWith("502: nothing listens on 10.0.3.7:8080 (ECONNREFUSED after "
                                     "0.2 ms"));
  CHECK_THAT(hint, Catch::Contains("kubectl get pod"));
  CHECK_THAT(hint, Catch::Contains("kubectl logs --previous"));
  CHECK_THAT(hint, Catch::Contains("[[upstream]]"));
  const std::string zh = builtin().render(FailureCause::ConnectRefused, "zh", fields);
  CHECK_THAT(zh, Catch::Contains("10.0.3.7:8080"));
  CHECK_THAT(zh, Catch::Contains("ECONNREFUSED"));
  CHECK_THAT(zh, Catch::Contains("排查"));
  CHECK_THAT(zh, Catch::Contains("处理"));
}

TEST_CASE("each hint carries the evidence its cause is about", "[unit][hint]") {
  struct Expect {
    FailureCause cause;
    std::vector<std::string> en_contains;
  };
  const std::vector<Expect> expectations = {
      {FailureCause::ConnectTimeout, {"1s", "0.2 ms", "10.0.3.7:8080"}},
      {FailureCause::ConnectError, {"ECONNREFUSED", "Connection refused", "10.0.3.7:8080"}},
      {FailureCause::DnsFailure, {"10.0.3.7:8080", "NXDOMAIN"}},
      {FailureCause::NoHealthyEndpoint, {"app", "no address", "kubectl get endpoints"}},
      {FailureCause::LocalOverload,
       {"256", "1024", "5s", "HPA", "max_connections/max_pending", "invalid status line"}},
      {FailureCause::UpstreamClosedEarly, {"FIN", "312", "kubectl logs --previous"}},
      {FailureCause::UpstreamResetEarly, {"RST", "OOM", "kubectl describe pod"}},
      {FailureCause::StaleKeepalive,
       {"keepalive_idle_timeout is 30s", "4987 ms", "must be shorter", "17 requests",
        "not retried: retries = 0", "after about 4.9 s (learned", "7f3a9c2e1b4d5a60"}},
      {FailureCause::ResponseHeaderTimeout, {"15s", "15004.1 ms", "kubectl top pod"}},
      {FailureCause::RequestTimeout, {"30s", "15004.1 ms"}},
      {FailureCause::MalformedResponse, {"invalid status line", "65536"}},
      {FailureCause::TruncatedResponse, {"65536", "aborted", "OOMKilled"}},
      {FailureCause::BodyIdleTimeout, {"65536", "60s", "15004.1 ms"}},
      {FailureCause::UpstreamAppError, {"7f3a9c2e1b4d5a60", "logs", "GET /v1/orders"}},
      {FailureCause::UpstreamUnavailable, {"Retry-After: 120", "kubectl top pod", "HPA"}},
      {FailureCause::UpstreamGatewayError, {"ingress-nginx", "not triaged"}},
      {FailureCause::ClientAborted, {"client side", "192.0.2.10:53122"}},
      {FailureCause::ClientBadRequest, {"client side", "invalid status line"}},
      {FailureCause::ClientTimeout, {"client side", "client_header_timeout"}},
      {FailureCause::NoRoute, {"GET /v1/orders", "[[route]]"}},
  };
  for (const auto& expect : expectations) {
    const HintFields fields = fullFields(expect.cause);
    const std::string en = builtin().render(expect.cause, "en", fields);
    const std::string zh = builtin().render(expect.cause, "zh", fields);
    INFO(causeName(expect.cause) << ": " << en);
    for (const auto& needle : expect.en_contains) CHECK_THAT(en, Catch::Contains(needle));
    CHECK(zh != en);
  }
  // The zh texts carry the same evidence as the English ones.
  const HintFields keepalive = fullFields(FailureCause::StaleKeepalive);
  const std::string zh = builtin().render(FailureCause::StaleKeepalive, "zh", keepalive);
  CHECK_THAT(zh, Catch::Contains("keepalive_idle_timeout（30s）"));
  CHECK_THAT(zh, Catch::Contains("4987 ms"));
  CHECK_THAT(builtin().render(FailureCause::UpstreamGatewayError, "zh",
                              fullFields(FailureCause::UpstreamGatewayError)),
             Catch::Contains("ingress-nginx"));
}

TEST_CASE("render falls back to English and is empty without a text", "[unit][hint]") {
  HintCatalog catalog;
  catalog.set("connect_refused", HintText{"refused {endpoint}", "", ""});
  catalog.set("connect_timeout", HintText{"", "超时 {endpoint}", ""});
  const HintFields fields = HintFields::of({{"endpoint", "a:1"}});
  CHECK(catalog.render(FailureCause::ConnectRefused, "zh", fields) == "refused a:1");
  CHECK(catalog.render(FailureCause::ConnectRefused, "fr", fields) == "refused a:1");
  CHECK(catalog.render(FailureCause::ConnectRefused, "", fields) == "refused a:1");
  // Only a zh text: better than nothing in either language.
  CHECK(catalog.render(FailureCause::ConnectTimeout, "en", fields) == "超时 a:1");
  CHECK(catalog.render(FailureCause::DnsFailure, "en", fields).empty());
  CHECK(catalog.render(FailureCause::None, "en", fields).empty());
  CHECK(builtin().render(FailureCause::None, "en", fields).empty());
  // Unknown language on the built-in catalog is English.
  const HintFields full = fullFields(FailureCause::ConnectRefused);
  CHECK(builtin().render(FailureCause::ConnectRefused, "de", full) ==
        builtin().render(FailureCause::ConnectRefused, "en", full));
}

TEST_CASE("overrides replace only the parts they give; a runbook is appended", "[unit][hint]") {
  HintCatalog catalog = builtin();
  const HintText original = *catalog.find("connect_refused");
  catalog.overrideCause("connect_refused", HintText{"{status}: refused by {endpoint}.", "",
                                                    "https://wiki/run/{cause}"});
  const HintText* text = catalog.find("connect_refused");
  REQUIRE(text != nullptr);
  CHECK(text->en == "{status}: refused by {endpoint}.");
  CHECK(text->zh == original.zh);
  CHECK(text->runbook == "https://wiki/run/{cause}");

  const HintFields fields = fullFields(FailureCause::ConnectRefused);
  CHECK(catalog.render(FailureCause::ConnectRefused, "en", fields) ==
        "502: refused by 10.0.3.7:8080. Runbook: https://wiki/run/connect_refused");
  const std::string zh = catalog.render(FailureCause::ConnectRefused, "zh", fields);
  CHECK(zh == builtin().render(FailureCause::ConnectRefused, "zh", fields) +
                  " Runbook: https://wiki/run/connect_refused");

  // A second override with only a runbook keeps the replaced en text.
  catalog.overrideCause("connect_refused", HintText{"", "", "https://other"});
  CHECK(catalog.find("connect_refused")->en == "{status}: refused by {endpoint}.");
  CHECK(catalog.find("connect_refused")->runbook == "https://other");
  // Overriding a cause the catalog lacks adds it; set() replaces everything.
  HintCatalog empty;
  empty.overrideCause("no_route", HintText{"", "", "https://r"});
  REQUIRE(empty.find("no_route") != nullptr);
  CHECK(empty.render(FailureCause::NoRoute, "en", HintFields{}).empty());
  empty.set("no_route", HintText{"404 {path}", "", ""});
  CHECK(empty.render(FailureCause::NoRoute, "en", HintFields::of({{"path", "/x"}})) == "404 /x");
  CHECK(empty.size() == 1);
}

TEST_CASE("renderTemplate substitutes, escapes and marks what is missing", "[unit][hint]") {
  const std::map<std::string, std::string, std::less<>> values{
      {"a", "1"}, {"b", "two"}, {"empty", ""}, {"brace", "{a}"}};
  const FieldLookup fields = [&values](std::string_view name) -> const std::string* {
    const auto it = values.find(name);
    return it == values.end() ? nullptr : &it->second;
  };
  struct Case {
    const char* templ;
    const char* expected;
  };
  const std::vector<Case> cases = {
      {"", ""},
      {"plain text", "plain text"},
      {"{a}", "1"},
      {"x{a}y{b}z", "x1ytwoz"},
      {"{a}{b}{a}", "1two1"},
      {"{missing}", "?"},
      {"{empty}", "?"},
      {"value {A}", "value ?"},  // names are case-sensitive
      {"{{", "{"},
      {"{{a}", "{a}"},
      {"{{{a}", "{1"},
      {"{{{{", "{{"},
      {"a } b", "a } b"},
      {"}}", "}}"},
      {"{", "{"},
      {"end {", "end {"},
      {"{a", "{a"},
      {"{}", "{}"},
      {"{ a }", "{ a }"},
      {"{a-b}", "{a-b}"},
      {"{\"json\": 1}", "{\"json\": 1}"},
      {"{brace}", "{a}"},  // values are not expanded again
      {"中文 {a} 处理", "中文 1 处理"},
  };
  for (const auto& c : cases) {
    INFO(c.templ);
    CHECK(renderTemplate(c.templ, fields) == c.expected);
  }
  CHECK(renderTemplate("{a}", HintFields{}) == "?");
}

TEST_CASE("templatePlaceholders lists each name once, in order", "[unit][hint]") {
  CHECK(templatePlaceholders("{b} {a} {b} {{c} {} { d } {e") == std::vector<std::string>{"b", "a"});
  CHECK(templatePlaceholders("").empty());
  const auto names = hintPlaceholderNames();
  CHECK(names.size() == 46);
  for (const char* name : {"endpoint", "errno", "keepalive_idle_timeout", "hop", "retry_after",
                           "client", "dns_error", "idle_ms"}) {
    CHECK(std::find(names.begin(), names.end(), name) != names.end());
  }
  // Every name is a member of HintFields, and only those are.
  HintFields f;
  for (const auto name : names) CHECK(f.set(name, "x"));
  CHECK_FALSE(f.set("no_such_field", "x"));
  CHECK_THROWS_AS(HintFields::of({{"no_such_field", "x"}}), std::invalid_argument);
  // Every placeholder of the built-in texts is one the session fills.
  for (const FailureCause cause : everyCause()) {
    const HintText* text = builtin().find(causeName(cause));
    REQUIRE(text != nullptr);
    for (const std::string* templ : {&text->en, &text->zh}) {
      for (const auto& name : templatePlaceholders(*templ)) {
        INFO(causeName(cause) << ": {" << name << "}");
        CHECK(std::find(names.begin(), names.end(), name) != names.end());
      }
    }
  }
}

}  // namespace
}  // namespace triaged::diagnose
