#pragma once

// `triaged triage --admin HOST:PORT [--json]`: a one-shot, blocking client for a running
// daemon's /debug/triage. Plain sockets with poll() and one 5 s deadline for the whole
// exchange, no event loop: it runs in the foreground of an operator's shell, on the main
// thread, and is gone when the report is printed.

#include <string>
#include <string_view>
#include <vector>

namespace triaged::admin {

// `args` are the words after `triage`. Prints the report on stdout (coloured when stdout is a
// terminal, NO_COLOR is unset and TERM is not "dumb") and returns the process exit code:
// 0 on HTTP 200; 1 when the listener cannot be reached, does not answer in time, answers
// garbage or answers another status (status and body go to stderr); 2 on a usage error.
int runTriageCommand(const std::vector<std::string_view>& args);

// The text report with ANSI colour added line by line: headings bold, lines naming a failure
// cause or a 502/503/504 red (yellow for overload, unavailability and client causes).
// Exposed for tests; pure.
std::string colorizeTriageText(std::string_view text);

}  // namespace triaged::admin
