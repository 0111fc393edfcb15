#pragma once

// `triaged fleet --prometheus URL [--window 15m] [--selector SEL] [--instance-label instance]
// [--node-label node] [--json]`: the fleet view, read from the Prometheus that scrapes every
// triaged. A fixed number of blocking GETs to its HTTP API (admin/http_get), each with its own
// deadline, in the foreground of an operator's shell; the report itself is admin/fleet_report.

#include <string_view>
#include <vector>

namespace triaged::admin {

// `args` are the words after `fleet`. Prints the report on stdout (coloured like `triaged
// triage`) and returns the exit code: 0 with a report (an empty one when nothing failed); 1 with
// a one-line reason on stderr when Prometheus cannot be reached or answers an error; 2 on a
// usage error.
int runFleetCommand(const std::vector<std::string_view>& args);

}  // namespace triaged::admin
