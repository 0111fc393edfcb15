#include "vector.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace conformance {
namespace {

int hexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) {
    s.remove_suffix(1);
  }
  return s;
}

}  // namespace

std::optional<std::string> unescape(std::string_view text, std::string& error) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '\\') {
      out.push_back(text[i]);
      continue;
    }
    if (i + 1 == text.size()) {
      error = "a line ends in a lone backslash";
      return std::nullopt;
    }
    const char e = text[++i];
    switch (e) {
      case 'r':
        out.push_back('\r');
        break;
      case 'n':
        out.push_back('\n');
        break;
      case 't':
        out.push_back('\t');
        break;
      case '0':
        out.push_back('\0');
        break;
      case '\\':
        out.push_back('\\');
        break;
      case 'x': {
        if (i + 2 >= text.size() || hexValue(text[i + 1]) < 0 || hexValue(text[i + 2]) < 0) {
          error = "\\x needs two hex digits";
          return std::nullopt;
        }
        out.push_back(static_cast<char>(hexValue(text[i + 1]) * 16 + hexValue(text[i + 2])));
        i += 2;
        break;
      }
      default:
        error = std::string("unknown escape \\") + e;
        return std::nullopt;
    }
  }
  return out;
}

std::string escape(std::string_view bytes) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size());
  for (const char ch : bytes) {
    const auto c = static_cast<unsigned char>(ch);
    switch (c) {
      case '\r':
        out += "\\r";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\0':
        out += "\\0";
        break;
      case '\\':
        out += "\\\\";
        break;
      default:
        if (c < 0x20 || c > 0x7e) {
          out += "\\x";
          out.push_back(kHex[c >> 4]);
          out.push_back(kHex[c & 0xf]);
        } else {
          out.push_back(ch);
        }
    }
  }
  return out;
}

std::string Vector::key(std::string_view k, std::string_view fallback) const {
  const auto it = keys.find(k);
  return it != keys.end() ? it->second : std::string(fallback);
}

std::optional<std::string> Vector::section(std::string_view s) const {
  const auto it = sections.find(s);
  if (it == sections.end()) return std::nullopt;
  return it->second;
}

std::optional<Vector> parseVector(std::string_view name, std::string_view text,
                                  std::string& error) {
  Vector v;
  v.name = name;
  std::string* section = nullptr;
  size_t line_no = 0;
  while (!text.empty()) {
    const size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text.remove_prefix(nl == std::string_view::npos ? text.size() : nl + 1);
    ++line_no;
    auto bad = [&](const std::string& why) {
      error = std::to_string(line_no) + ": " + why;
      return std::nullopt;
    };
    if (line.rfind("---- ", 0) == 0) {
      const std::string label(trim(line.substr(5)));
      if (label != "request" && label != "upstream" && label != "response" && label != "client") {
        return bad("unknown section '" + label + "'");
      }
      if (v.sections.count(label) != 0) return bad("section '" + label + "' twice");
      section = &v.sections[label];
      continue;
    }
    if (section != nullptr) {
      std::string why;
      const auto bytes = unescape(line, why);
      if (!bytes) return bad(why);
      *section += *bytes;
      continue;
    }
    line = trim(line);
    if (line.empty()) continue;
    if (line.front() == '#') {
      if (v.title.empty()) v.title = std::string(trim(line.substr(1)));
      continue;
    }
    const size_t colon = line.find(':');
    if (colon == std::string_view::npos) return bad("expected 'key: value' or a section");
    v.keys[std::string(trim(line.substr(0, colon)))] = std::string(trim(line.substr(colon + 1)));
  }
  if (v.key("expect").empty()) {
    error = "no 'expect:' line";
    return std::nullopt;
  }
  return v;
}

std::vector<Vector> loadVectors(const std::string& dir) {
  std::vector<std::filesystem::path> files;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    if (entry.path().extension() == ".vec") files.push_back(entry.path());
  }
  std::sort(files.begin(), files.end());
  std::vector<Vector> out;
  for (const auto& path : files) {
    std::ifstream in(path, std::ios::binary);
    std::stringstream text;
    text << in.rdbuf();
    std::string error;
    auto v = parseVector(path.stem().string(), text.str(), error);
    if (!v) throw std::runtime_error(path.string() + ":" + error);
    out.push_back(std::move(*v));
  }
  return out;
}

}  // namespace conformance
