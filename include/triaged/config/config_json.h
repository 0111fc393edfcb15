#pragma once

// The effective configuration as pretty-printed JSON, for the admin endpoint /config.
// No JSON library: the shape is fixed and small, so it is written by hand.

#include <string>

#include "triaged/config/config.h"

namespace triaged::config {

// Every field of server, log, upstreams and routes; hint_overrides as the list of cause names.
// Durations are strings with a unit ("1500ms", "10s", "2m", "1h"), addresses "host:port",
// a disabled admin_listen and a route without host are null. Indented by 2 spaces.
std::string configToJson(const Config& config);

// The largest whole unit that divides the duration exactly: "0s", "250ms", "10s", "2m", "1h".
// Output is accepted by the config loader's duration parser.
std::string durationToString(Duration duration);

}  // namespace triaged::config
