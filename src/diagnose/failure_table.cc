#include "triaged/diagnose/failure_table.h"

#include <array>
#include <cstddef>

namespace triaged::diagnose {
namespace {

// Indexed by FailureCause; the static_assert below keeps it in step with the enum.
constexpr std::array kCauses{
    CauseInfo{FailureCause::None, "none", "none", 0, Origin::Upstream},
    CauseInfo{FailureCause::ConnectRefused, "connect_refused", "refused", 502, Origin::Proxy},
    CauseInfo{FailureCause::ConnectTimeout, "connect_timeout", "timeout", 504, Origin::Proxy},
    CauseInfo{FailureCause::ConnectError, "connect_error", "network", 502, Origin::Proxy},
    CauseInfo{FailureCause::DnsFailure, "dns_failure", "dns", 502, Origin::Proxy},
    CauseInfo{FailureCause::NoHealthyEndpoint, "no_healthy_endpoint", "unavailable", 503,
              Origin::Proxy},
    CauseInfo{FailureCause::LocalOverload, "local_overload", "overload", 503, Origin::Proxy},
    CauseInfo{FailureCause::UpstreamClosedEarly, "upstream_closed_early", "crash", 502,
              Origin::Proxy},
    CauseInfo{FailureCause::UpstreamResetEarly, "upstream_reset_early", "crash", 502,
              Origin::Proxy},
    CauseInfo{FailureCause::StaleKeepalive, "stale_keepalive", "keepalive_race", 502,
              Origin::Proxy},
    CauseInfo{FailureCause::ResponseHeaderTimeout, "response_header_timeout", "timeout", 504,
              Origin::Proxy},
    CauseInfo{FailureCause::RequestTimeout, "request_timeout", "timeout", 504, Origin::Proxy},
    CauseInfo{FailureCause::MalformedResponse, "malformed_response", "protocol", 502,
              Origin::Proxy},
    CauseInfo{FailureCause::TruncatedResponse, "truncated_response", "crash", 0, Origin::Upstream},
    CauseInfo{FailureCause::BodyIdleTimeout, "body_idle_timeout", "timeout", 0, Origin::Upstream},
    CauseInfo{FailureCause::UpstreamAppError, "upstream_app_error", "app_error", 0,
              Origin::Upstream},
    CauseInfo{FailureCause::UpstreamUnavailable, "upstream_unavailable", "overload", 0,
              Origin::Upstream},
    CauseInfo{FailureCause::UpstreamGatewayError, "upstream_gateway_error", "gateway", 0,
              Origin::Upstream},
    CauseInfo{FailureCause::ClientAborted, "client_aborted", "client", 499, Origin::Client},
    CauseInfo{FailureCause::ClientBadRequest, "client_bad_request", "client", 400, Origin::Proxy},
    CauseInfo{FailureCause::ClientTimeout, "client_timeout", "client", 408, Origin::Proxy},
    CauseInfo{FailureCause::NoRoute, "no_route", "client", 404, Origin::Proxy},
};
static_assert(kCauses.size() == static_cast<size_t>(FailureCause::NoRoute) + 1);

constexpr std::array<std::string_view, 8> kPhases{
    "accept",       "read_request_headers",  "route",       "connect_upstream",
    "send_request", "read_response_headers", "stream_body", "complete",
};

}  // namespace

const CauseInfo& causeInfo(FailureCause cause) { return kCauses[static_cast<size_t>(cause)]; }
std::string_view causeName(FailureCause cause) { return causeInfo(cause).name; }
std::string_view phaseName(Phase phase) { return kPhases[static_cast<size_t>(phase)]; }
std::string_view originName(Origin origin) {
  switch (origin) {
    case Origin::Proxy:
      return "proxy";
    case Origin::Upstream:
      return "upstream";
    case Origin::Client:
      return "client";
  }
  return "proxy";
}

}  // namespace triaged::diagnose
