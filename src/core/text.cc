#include "triaged/core/text.h"

namespace triaged {
namespace {

constexpr char kHex[] = "0123456789abcdef";
constexpr std::string_view kReplacement = "\xef\xbf\xbd";  // U+FFFD, as UTF-8

bool continuation(unsigned char c) { return (c & 0xc0) == 0x80; }

// A control character: C0, DEL, or (as its two-byte UTF-8 form C2 80..C2 9F) C1.
bool controlAt(std::string_view text, size_t at, size_t length) {
  const auto c = static_cast<unsigned char>(text[at]);
  if (length == 1) return c < 0x20 || c == 0x7f;
  return length == 2 && c == 0xc2 && static_cast<unsigned char>(text[at + 1]) < 0xa0;
}

// The code point of the control character at text[at] (see controlAt).
unsigned controlCode(std::string_view text, size_t at, size_t length) {
  const auto c = static_cast<unsigned char>(text[at]);
  return length == 1 ? c : static_cast<unsigned char>(text[at + 1]);  // C2 80..9F: U+0080..9F
}

void appendEscapedControl(std::string& out, unsigned code) {
  switch (code) {
    case '\n':
      out += "\\n";
      return;
    case '\r':
      out += "\\r";
      return;
    case '\t':
      out += "\\t";
      return;
    case '\b':
      out += "\\b";
      return;
    case '\f':
      out += "\\f";
      return;
    default:
      out += "\\u00";
      out += kHex[(code >> 4) & 0xf];
      out += kHex[code & 0xf];
  }
}

}  // namespace

size_t utf8SequenceLength(std::string_view text, size_t at) {
  const size_t left = text.size() - at;
  const auto b0 = static_cast<unsigned char>(text[at]);
  if (b0 < 0x80) return 1;
  // The second byte's range depends on the first (RFC 3629 section 4): it is what rules out
  // overlong forms (E0, F0), surrogates (ED) and code points above U+10FFFF (F4).
  size_t length = 0;
  unsigned char low = 0x80;
  unsigned char high = 0xbf;
  if (b0 >= 0xc2 && b0 <= 0xdf) {
    length = 2;
  } else if (b0 >= 0xe0 && b0 <= 0xef) {
    length = 3;
    if (b0 == 0xe0) low = 0xa0;
    if (b0 == 0xed) high = 0x9f;
  } else if (b0 >= 0xf0 && b0 <= 0xf4) {
    length = 4;
    if (b0 == 0xf0) low = 0x90;
    if (b0 == 0xf4) high = 0x8f;
  } else {
    return 0;  // a continuation byte, C0, C1 (overlong), or F5..FF
  }
  if (left < length) return 0;
  const auto b1 = static_cast<unsigned char>(text[at + 1]);
  if (b1 < low || b1 > high) return 0;
  for (size_t i = 2; i < length; ++i) {
    if (!continuation(static_cast<unsigned char>(text[at + i]))) return 0;
  }
  return length;
}

void appendJsonEscaped(std::string& out, std::string_view text) {
  size_t plain_from = 0;  // start of the run of bytes copied as they are
  size_t i = 0;
  while (i < text.size()) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\') {
      ++i;  // the common case: printable ASCII, copied with its run
      continue;
    }
    const size_t length = utf8SequenceLength(text, i);
    if (length > 1 && !controlAt(text, i, length)) {
      i += length;
      continue;
    }
    out.append(text, plain_from, i - plain_from);
    if (length == 0) {
      out += "\\ufffd";
      i += 1;
    } else if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
      i += 1;
    } else {
      appendEscapedControl(out, controlCode(text, i, length));
      i += length;
    }
    plain_from = i;
  }
  out.append(text, plain_from, text.size() - plain_from);
}

std::string jsonQuoted(std::string_view text) {
  std::string out;
  out.reserve(text.size() + 2);
  out += '"';
  appendJsonEscaped(out, text);
  out += '"';
  return out;
}

std::string printable(std::string_view text, size_t max_bytes) {
  std::string out;
  out.reserve(text.size() < max_bytes ? text.size() : max_bytes);
  size_t i = 0;
  while (i < text.size()) {
    size_t length = utf8SequenceLength(text, i);
    std::string_view piece;
    if (length == 0) {
      piece = kReplacement;
      length = 1;
    } else if (length == 1 && text[i] == '\t') {
      piece = " ";
    } else if (controlAt(text, i, length)) {
      piece = kReplacement;
    } else {
      piece = text.substr(i, length);
    }
    if (out.size() + piece.size() > max_bytes) {
      out += "...";
      break;
    }
    out += piece;
    i += length;
  }
  return out;
}

}  // namespace triaged
