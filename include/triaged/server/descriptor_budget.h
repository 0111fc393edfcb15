#pragma once

// The process's descriptor budget. At start the soft RLIMIT_NOFILE is raised to the hard limit
// (systemd and container runtimes give a high hard limit and a low soft one; nginx has
// worker_rlimit_nofile, HAProxy raises it itself), and unless server.max_client_connections is
// set, the client connection limit is derived from it: accepting pauses before descriptors run
// out, so every accepted client keeps one for its upstream connection, and the admin listener,
// probes, DNS and logs keep theirs. Running out is still survived (net::Listener pauses on
// EMFILE), but then /healthz cannot accept either, and a kubelet would restart a busy proxy.

#include <cstdint>

namespace triaged::server {

// Descriptors kept back for everything that is not a client connection or its upstream
// connection: listeners, the admin port and its scrapes, endpoint probes, DNS, log output.
inline constexpr uint64_t kReservedDescriptors = 64;

// Raises the soft limit to the hard one when it can; returns the limit in force.
uint64_t raiseDescriptorLimit();

// (limit - kReservedDescriptors) / 2, at least 1; a limit too small for the reserve gives 1 per
// 4 descriptors. Pure.
uint32_t clientConnectionsFor(uint64_t descriptor_limit);

}  // namespace triaged::server
