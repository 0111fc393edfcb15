#include "triaged/server/runtime_snapshot.h"

#include "triaged/config/config_diff.h"
#include "triaged/config/config_loader.h"
#include "triaged/server/descriptor_budget.h"

namespace triaged::server {

RuntimeSnapshot::RuntimeSnapshot(config::Config c, uint64_t open_files)
    : config(std::move(c)),
      router(config.routes),
      hints(config::buildHintCatalog(config)),
      hash(config::configHash(config)),
      max_client_connections(config.server.max_client_connections != 0
                                 ? config.server.max_client_connections
                                 : clientConnectionsFor(open_files)) {}

}  // namespace triaged::server
