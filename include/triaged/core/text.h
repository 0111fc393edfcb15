#pragma once

// Text that leaves the process: JSON string content for the logs and the admin endpoints, and
// the printable form of bytes a peer sent (an upstream's Server or Via header) before they
// become evidence in a hint. A header value may hold any byte from 0x80 up (obs-text), so it is
// not necessarily UTF-8; JSON must be (RFC 8259), and a log pipeline that meets an invalid line
// drops or mangles it. Pure functions, no allocation beyond the output.

#include <cstddef>
#include <string>
#include <string_view>

namespace triaged {

// The length of the well-formed UTF-8 sequence (RFC 3629: no overlong forms, no surrogates,
// nothing above U+10FFFF) that starts at text[at], or 0 when none does.
size_t utf8SequenceLength(std::string_view text, size_t at);

// Appends `text` to `out` as the content of a JSON string (without the quotes): `"` and `\`
// escaped, control characters (C0, DEL and C1) as \uXXXX (\n, \r, \t, \b, \f in short form),
// well-formed UTF-8 copied as is, and each byte that is not part of it as \ufffd.
void appendJsonEscaped(std::string& out, std::string_view text);

// `text` as a complete JSON string, quotes included.
std::string jsonQuoted(std::string_view text);

// `text` made safe to show: well-formed UTF-8 kept, a tab as a space, every other control
// character and every byte that is not well-formed UTF-8 as U+FFFD. Longer than `max_bytes`,
// it is cut at a character boundary and ends in "..." (the result is at most max_bytes + 3).
std::string printable(std::string_view text, size_t max_bytes);

}  // namespace triaged
