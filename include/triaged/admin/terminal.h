#pragma once

// How the command-line tools (`triaged triage`, `triaged fleet`) talk to the operator: ANSI
// SGR colours, only when stdout is a terminal, NO_COLOR (https://no-color.org) is unset and
// TERM is not "dumb", and usage errors. One place, so every tool answers the operator's settings
// the same way.

#include <string>
#include <string_view>

#include "triaged/diagnose/failure.h"

namespace triaged::admin {

inline constexpr const char* kBold = "\x1b[1m";
inline constexpr const char* kRed = "\x1b[31m";
inline constexpr const char* kYellow = "\x1b[33m";
inline constexpr const char* kReset = "\x1b[0m";

// True when stdout is a terminal, NO_COLOR is not set and TERM is not "dumb".
bool stdoutWantsColour();

// The colour of a line about failures of `info`'s cause: red for what is broken (severity
// error), yellow for "too busy" and "the client's doing" (warning, client).
const char* causeColour(const diagnose::CauseInfo& info);

// Prints "triaged COMMAND: PROBLEM" and the command's `usage` on stderr; returns 2, the exit code
// of a usage error.
int usageError(std::string_view command, std::string_view problem, std::string_view usage);

// Writes `report` on stdout, ending it with a newline if it lacks one, and flushes: 0, or 1
// after saying on stderr why it could not (a closed pipe, a full disk).
int writeReport(std::string_view command, std::string report);

}  // namespace triaged::admin
