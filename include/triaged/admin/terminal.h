#pragma once

// How the command-line tools (`triaged triage`, `triaged fleet`) colour what they print: ANSI
// SGR sequences, only when stdout is a terminal, NO_COLOR (https://no-color.org) is unset and
// TERM is not "dumb". One place, so every tool answers the operator's settings the same way.

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

}  // namespace triaged::admin
