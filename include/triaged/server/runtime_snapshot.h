#pragma once

// RuntimeSnapshot: what one configuration produces for the data plane — the configuration
// itself, its router, its hint catalog and its hash — immutable once built. Workers read it
// through a shared_ptr that is swapped at a loop turn when a reload succeeds (after Envoy's
// thread-local slots and nginx's cycles): a request takes what it needs when it starts (its
// route, its upstream's settings) and finishes under that, new requests see the new one. State
// that must survive a reload (pools, health, learned limits, counters, the triage store) lives
// outside it, keyed by upstream name.

#include <memory>
#include <string>

#include "triaged/config/config.h"
#include "triaged/diagnose/triage_hint.h"
#include "triaged/proxy/router.h"

namespace triaged::server {

struct RuntimeSnapshot {
  // Builds the router and the hint catalog of `config`; throws config::ConfigError when the
  // hint catalog it names became unreadable or invalid since it was validated. `open_files`:
  // the descriptor limit, from which max_client_connections = 0 is derived.
  RuntimeSnapshot(config::Config config, uint64_t open_files);

  config::Config config;
  proxy::Router router;
  diagnose::HintCatalog hints;
  std::string hash;                     // config::configHash, of the file's values
  uint32_t max_client_connections = 0;  // in force: the configured one, or the derived one
};
using SnapshotPtr = std::shared_ptr<const RuntimeSnapshot>;

}  // namespace triaged::server
