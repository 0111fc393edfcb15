#pragma once

// `triaged health (--admin HOST:PORT | --config FILE) [--ready] [--timeout DURATION]`: asks a
// running daemon's admin listener whether it is alive (/healthz) or ready to serve (/readyz),
// for a container's HEALTHCHECK or a Kubernetes exec probe in an image that has no shell and no
// curl. With --config the address is the file's server.admin_listen, so an image's HEALTHCHECK
// follows whatever configuration is mounted over the shipped one (Docker's --health-cmd would
// need a shell to change it). One blocking GET through admin::httpGet on the main thread, with a
// short deadline (2 s by default) so a hung daemon fails the probe instead of hanging it.

#include <string_view>
#include <vector>

#include "triaged/config/config.h"

namespace triaged::admin {

// Where a probe reaches a listener bound to `listen`: a wildcard address (0.0.0.0, ::) on the
// loopback address of its family, anything else as it is. Pure.
config::HostPort probeAddress(const config::HostPort& listen);

// `args` are the words after `health`. Returns the process exit code: 0 when the endpoint
// answered 200 (one line on stdout); 1 when the listener cannot be reached, does not answer
// within the timeout, answers garbage or another status (one line on stderr saying which);
// 2 on a usage error.
int runHealthCommand(const std::vector<std::string_view>& args);

}  // namespace triaged::admin
