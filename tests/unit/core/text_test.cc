#include "triaged/core/text.h"

#include <catch2/catch.hpp>
#include <string>
#include <string_view>

namespace triaged {
namespace {

std::string escaped(std::string_view text) {
  std::string out;
  appendJsonEscaped(out, text);
  return out;
}

// The byte string spelled by a C++ literal that may hold NUL.
template <size_t N>
std::string bytes(const char (&s)[N]) {
  return std::string(s, N - 1);
}

}  // namespace

TEST_CASE("utf8SequenceLength accepts well-formed UTF-8 only (RFC 3629)", "[unit][text]") {
  CHECK(utf8SequenceLength("a", 0) == 1);
  CHECK(utf8SequenceLength("\xc3\xa9", 0) == 2);          // é
  CHECK(utf8SequenceLength("\xe4\xb8\xad", 0) == 3);      // 中
  CHECK(utf8SequenceLength("\xf0\x9f\x98\x80", 0) == 4);  // U+1F600
  CHECK(utf8SequenceLength("\xf4\x8f\xbf\xbf", 0) == 4);  // U+10FFFF, the last code point
  CHECK(utf8SequenceLength("\xef\xbf\xbd", 0) == 3);      // U+FFFD itself
  // Not well-formed:
  CHECK(utf8SequenceLength("\x80", 0) == 0);              // a lone continuation byte
  CHECK(utf8SequenceLength("\xe9t", 0) == 0);             // Latin-1 é followed by ASCII
  CHECK(utf8SequenceLength("\xc3", 0) == 0);              // cut short at the end
  CHECK(utf8SequenceLength("\xe4\xb8", 0) == 0);          // cut short at the end
  CHECK(utf8SequenceLength("\xc0\x80", 0) == 0);          // overlong NUL
  CHECK(utf8SequenceLength("\xc1\xbf", 0) == 0);          // overlong
  CHECK(utf8SequenceLength("\xe0\x80\xaf", 0) == 0);      // overlong '/'
  CHECK(utf8SequenceLength("\xf0\x8f\xbf\xbf", 0) == 0);  // overlong
  CHECK(utf8SequenceLength("\xed\xa0\x80", 0) == 0);      // a UTF-16 surrogate (U+D800)
  CHECK(utf8SequenceLength("\xf4\x90\x80\x80", 0) == 0);  // above U+10FFFF
  CHECK(utf8SequenceLength("\xf5\x80\x80\x80", 0) == 0);
  CHECK(utf8SequenceLength("\xff", 0) == 0);
  CHECK(utf8SequenceLength("\xe4\x41\xad", 0) == 0);  // a non-continuation byte inside
}

TEST_CASE("appendJsonEscaped escapes what JSON requires and keeps UTF-8", "[unit][text]") {
  CHECK(escaped("") == "");
  CHECK(escaped("plain text, 100% ASCII") == "plain text, 100% ASCII");
  CHECK(escaped(R"(say "hi" C:\dir)") == R"(say \"hi\" C:\\dir)");
  CHECK(escaped("a\nb\tc\rd\be\ff") == R"(a\nb\tc\rd\be\ff)");
  CHECK(escaped(bytes("\x00\x01\x1f\x7f")) == R"(\u0000\u0001\u001f\u007f)");
  CHECK(escaped("\xc2\x9b[2J") == R"(\u009b[2J)");  // C1 control (CSI) as UTF-8
  CHECK(escaped("caf\xc3\xa9 \xe4\xb8\xad \xf0\x9f\x98\x80") ==
        "caf\xc3\xa9 \xe4\xb8\xad \xf0\x9f\x98\x80");  // well-formed: copied as is
  CHECK(escaped("\xc2\xa0") == "\xc2\xa0");            // U+00A0 is no control
  CHECK(jsonQuoted("x\"y") == R"("x\"y")");
  CHECK(jsonQuoted("") == R"("")");
}

TEST_CASE("appendJsonEscaped turns every byte that is not UTF-8 into \\ufffd", "[unit][text]") {
  // An upstream's header value in Latin-1: obs-text, which HTTP allows and JSON does not.
  CHECK(escaped("caf\xe9-proxy") == R"(caf\ufffd-proxy)");
  CHECK(escaped("h\xf6p\xff") == R"(h\ufffdp\ufffd)");
  // One replacement per byte, and the bytes after a broken sequence are read afresh.
  CHECK(escaped("\xe4\xb8"
                "a") == R"(\ufffd\ufffda)");
  CHECK(escaped("\xed\xa0\x80") == R"(\ufffd\ufffd\ufffd)");
  CHECK(escaped("\xc3") == R"(\ufffd)");
  CHECK(escaped("\x80\xc3\xa9") == "\\ufffd\xc3\xa9");
  // Appends: what `out` held stays.
  std::string out = "{\"k\":\"";
  appendJsonEscaped(out, "v\xff");
  CHECK(out == R"({"k":"v\ufffd)");
}

TEST_CASE("printable keeps text readable, valid and bounded", "[unit][text]") {
  CHECK(printable("nginx/1.22.1", 256) == "nginx/1.22.1");
  CHECK(printable("caf\xc3\xa9", 256) == "caf\xc3\xa9");
  CHECK(printable("caf\xe9", 256) == "caf\xef\xbf\xbd");
  CHECK(printable("a\tb", 256) == "a b");
  CHECK(printable(bytes("a\x00"
                        "b\x1b[2J\x7f"),
                  256) ==
        "a\xef\xbf\xbd"
        "b\xef\xbf\xbd[2J\xef\xbf\xbd");
  CHECK(printable("\xc2\x9b", 256) == "\xef\xbf\xbd");
  // Cut at a character boundary, never inside a sequence, and marked.
  CHECK(printable("abcdef", 6) == "abcdef");
  CHECK(printable("abcdefg", 6) == "abcdef...");
  CHECK(printable("abcde\xc3\xa9", 6) == "abcde...");
  CHECK(printable(std::string(10000, 'x'), 256).size() == 259);
  CHECK(printable("", 0).empty());
}

}  // namespace triaged
