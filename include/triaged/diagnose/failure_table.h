#pragma once

// The one table from failure cause to name, class, synthetic status and origin (linkerd keeps
// one such table from error to 502/504). Everything that answers or reports a failure reads it.

#include <string_view>

#include "triaged/diagnose/failure.h"

namespace triaged::diagnose {

const CauseInfo& causeInfo(FailureCause cause);
std::string_view causeName(FailureCause cause);
std::string_view phaseName(Phase phase);
std::string_view originName(Origin origin);

}  // namespace triaged::diagnose
