#pragma once

// The one table from failure cause to everything triaged says and does about it: name, class,
// the status of a proxy-made reply, origin, retry rule, RFC 9209 Proxy-Status type, severity and
// what an episode of it means (linkerd keeps one such table from error to 502/504; Envoy one of
// response flags). Everything that answers, retries, reports or counts a failure reads it.

#include <optional>
#include <span>
#include <string_view>

#include "triaged/diagnose/failure.h"

namespace triaged::diagnose {

// Every real cause (FailureCause::None excluded), in enum order.
std::span<const CauseInfo> allCauses();
const CauseInfo& causeInfo(FailureCause cause);
std::string_view causeName(FailureCause cause);
std::optional<FailureCause> causeByName(std::string_view name);
// What a burst of `cause` usually means ("looks like a restart or crash of the upstream").
std::string_view episodeMeaning(FailureCause cause);
// The cause an upstream's own 5xx is reported under (passed through, origin upstream); None
// below 500.
FailureCause causeForUpstreamStatus(int status);

// Hint catalog entries that belong to an event rather than a cause (the texts of
// upstream_retry, endpoint_down and endpoint_recovered lines).
std::span<const std::string_view> eventHintNames();

std::string_view phaseName(Phase phase);
std::string_view originName(Origin origin);

}  // namespace triaged::diagnose
