#include "triaged/core/json_value.h"

#include <catch2/catch.hpp>
#include <string>

#include "triaged/core/text.h"

namespace triaged {

TEST_CASE("a Prometheus API answer is read with its types", "[unit][json]") {
  const auto doc = parseJson(
      R"({"status":"success","data":{"resultType":"vector","result":[)"
      R"({"metric":{"upstream":"billing","cause":"connect_refused"},"value":[1764583262.5,"12"]}]},)"
      R"("warnings":[], "ok": true, "none": null, "n": -1.5e2})");
  REQUIRE(doc);
  REQUIRE(doc->find("status"));
  CHECK(*doc->find("status")->string() == "success");
  const JsonValue* result = doc->find("data")->find("result");
  REQUIRE(result->array());
  REQUIRE(result->array()->size() == 1);
  const JsonValue& sample = result->array()->front();
  CHECK(*sample.find("metric")->find("upstream")->string() == "billing");
  const auto& value = *sample.find("value")->array();
  CHECK(value[0].number() == 1764583262.5);
  CHECK(*value[1].string() == "12");
  CHECK(doc->find("warnings")->array()->empty());
  CHECK(doc->find("ok")->boolean() == true);
  CHECK(doc->find("none")->isNull());
  CHECK(doc->find("n")->number() == -150.0);
  CHECK(doc->find("missing") == nullptr);
  CHECK(doc->find("n")->find("x") == nullptr);  // not an object
  CHECK_FALSE(doc->find("n")->string());
}

TEST_CASE("string escapes become UTF-8, including surrogate pairs", "[unit][json]") {
  const auto doc = parseJson(R"(["a\"b\\c\/d\n\t\u00e9\u4e2d\ud83d\ude00", "caf\u00E9", "中"])");
  REQUIRE(doc);
  const auto& items = *doc->array();
  CHECK(*items[0].string() == "a\"b\\c/d\n\t\xc3\xa9\xe4\xb8\xad\xf0\x9f\x98\x80");
  CHECK(*items[1].string() == "caf\xc3\xa9");
  CHECK(*items[2].string() == "\xe4\xb8\xad");
}

TEST_CASE("what the writer escapes, the reader reads back", "[unit][json]") {
  const std::string tricky = "quote\" backslash\\ nl\n tab\t ctl\x01 del\x7f \xc2\x85 \xe4\xb8\xad";
  const auto doc = parseJson(jsonQuoted(tricky));
  REQUIRE(doc);
  CHECK(*doc->string() == tricky);
}

TEST_CASE("malformed JSON is refused with the offset of the problem", "[unit][json]") {
  struct Bad {
    const char* text;
    const char* reason;
  };
  const Bad cases[] = {
      {"", "unexpected end of input at byte 0"},
      {"[1,]", "unexpected character at byte 3"},
      {"{\"a\":1,}", "expected a string as object key at byte 7"},
      {"{'a':1}", "expected a string as object key at byte 1"},
      {"01", "leading zero in a number at byte 1"},
      {"1.", "expected a digit after '.' at byte 2"},
      {"1e", "expected a digit in the exponent at byte 2"},
      {"-", "expected a digit at byte 1"},
      {"NaN", "unexpected character at byte 0"},
      {"nul", "invalid literal at byte 0"},
      {"\"a\nb\"", "unescaped control character in a string at byte 2"},
      {"\"\\x\"", "invalid escape in a string at byte 2"},
      {"\"\\u12\"", "expected four hex digits after \\u at byte 3"},
      {"\"\\ud800\"", "unpaired high surrogate escape at byte 7"},
      {"\"\\udc00\"", "unpaired low surrogate escape at byte 7"},
      {"\"abc", "unterminated string at byte 4"},
      {"\"\xe9t\"", "invalid UTF-8 in a string at byte 1"},
      {"{\"a\":1,\"a\":2}", "duplicate object key \"a\" at byte 7"},
      {"[1] [2]", "unexpected text after the JSON value at byte 4"},
      {"{\"a\" 1}", "expected ':' after an object key at byte 5"},
      {"[1 2]", "expected ',' or ']' in an array at byte 3"},
      {"1e999", "number out of range at byte 0"},
  };
  for (const auto& c : cases) {
    INFO(c.text);
    const auto r = parseJson(c.text);
    REQUIRE_FALSE(r);
    CHECK(r.error().message == c.reason);
  }
}

TEST_CASE("nesting is bounded", "[unit][json]") {
  CHECK(parseJson(std::string(64, '[') + std::string(64, ']')));
  const auto deep = parseJson(std::string(65, '[') + std::string(65, ']'));
  REQUIRE_FALSE(deep);
  CHECK(deep.error().message == "nesting deeper than 64 at byte 64");
}

TEST_CASE("whitespace around the value is allowed, numbers keep their value", "[unit][json]") {
  const auto doc = parseJson(" \t\r\n[0, -0, 1.25, 3e2, 2E-1, 1234567890123] \n");
  REQUIRE(doc);
  const auto& n = *doc->array();
  CHECK(n[0].number() == 0.0);
  CHECK(n[2].number() == 1.25);
  CHECK(n[3].number() == 300.0);
  CHECK(n[4].number() == 0.2);
  CHECK(n[5].number() == 1234567890123.0);
}

}  // namespace triaged
