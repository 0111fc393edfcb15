#pragma once

// A strict JSON reader (RFC 8259) for the answers of HTTP APIs the command-line tools read
// (Prometheus's /api/v1/query). The writer side is core/text.h. Small on purpose: the documents
// are a few kilobytes to a few megabytes, read once, and a parse error must say where it is.
// Not for the data plane (it allocates freely).

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "triaged/core/result.h"

namespace triaged {

class JsonValue {
 public:
  using Array = std::vector<JsonValue>;
  // Members in document order; a key appears once (duplicates are refused by parseJson).
  using Object = std::vector<std::pair<std::string, JsonValue>>;

  JsonValue() = default;  // null
  explicit JsonValue(bool b) : v_(b) {}
  explicit JsonValue(double d) : v_(d) {}
  explicit JsonValue(std::string s) : v_(std::move(s)) {}
  explicit JsonValue(Array a) : v_(std::move(a)) {}
  explicit JsonValue(Object o) : v_(std::move(o)) {}

  bool isNull() const { return v_.index() == 0; }
  // nullptr / nullopt when the value is of another type.
  std::optional<bool> boolean() const;
  std::optional<double> number() const;
  const std::string* string() const { return std::get_if<std::string>(&v_); }
  const Array* array() const { return std::get_if<Array>(&v_); }
  const Object* object() const { return std::get_if<Object>(&v_); }

  // The member `key` of an object; nullptr when this is not an object or has no such member.
  const JsonValue* find(std::string_view key) const;

 private:
  std::variant<std::monostate, bool, double, std::string, Array, Object> v_;
};

// Parses one JSON text: whitespace around a single value and nothing else. Refuses what RFC 8259
// does not allow (trailing commas, single quotes, leading zeros, NaN, unescaped control
// characters, bytes that are not UTF-8, unpaired surrogate escapes), duplicate object keys, and
// nesting deeper than 64. The error says what and at which byte offset.
Result<JsonValue> parseJson(std::string_view text);

}  // namespace triaged
