#pragma once

// The conformance corpus's file format (tests/conformance/README.md): a few "key: value" lines,
// then sections ("---- request", "---- upstream", "---- response", "---- client") whose lines
// hold raw bytes with explicit escapes, so that every CR, LF, NUL and bare CR is visible and
// reviewable in git. Shared by the recording upstream, the runner and the comparison CLI.
// Pure logic; no sockets.

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace conformance {

// Decodes a section line: \r \n \t \0 \\ and \xHH are bytes, any other character stands for
// itself. Returns nullopt (and sets `error`) for an unknown or cut escape.
std::optional<std::string> unescape(std::string_view text, std::string& error);
// The inverse, on one line: bytes outside 0x20-0x7e (and the backslash) are escaped.
std::string escape(std::string_view bytes);

struct Vector {
  std::string name;                                      // file name without ".vec"
  std::string title;                                     // the first comment line
  std::map<std::string, std::string, std::less<>> keys;  // "expect", "reuse", ...
  std::map<std::string, std::string, std::less<>> sections;

  std::string key(std::string_view k, std::string_view fallback = "") const;
  std::optional<std::string> section(std::string_view s) const;
};

// Parses a vector file's text. nullopt (and `error` as "LINE: reason") when malformed.
std::optional<Vector> parseVector(std::string_view name, std::string_view text, std::string& error);
// Every "*.vec" file of `dir`, sorted by name; throws std::runtime_error naming the file and
// line of the first malformed one.
std::vector<Vector> loadVectors(const std::string& dir);

}  // namespace conformance
