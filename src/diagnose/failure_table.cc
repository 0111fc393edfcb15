#include "triaged/diagnose/failure_table.h"

#include <array>
#include <cstddef>

namespace triaged::diagnose {
namespace {

constexpr std::string_view kBurst = "a burst of failures";

// Row 0 stands for FailureCause::None; the others come from the table, in enum order.
constexpr std::array<CauseInfo, kCauseCount> kCauses{
    {{FailureCause::None, "none", "none", 0, Origin::Upstream, RetryRule::Never, "",
      Severity::Client, ""},
#define TRIAGED_CAUSE_ROW(id, name, cls, status, origin, retry, type, severity, episode) \
  {FailureCause::id,   name,   cls, status, Origin::origin, RetryRule::retry, type,      \
   Severity::severity, episode},
     TRIAGED_CAUSES(TRIAGED_CAUSE_ROW)
#undef TRIAGED_CAUSE_ROW
    }};

constexpr std::array<std::string_view, 9> kPhases{
    "accept",       "read_request_headers",  "route",       "connect_upstream", "tls_handshake",
    "send_request", "read_response_headers", "stream_body", "complete",
};

constexpr std::array<std::string_view, 4> kEventHints{"upstream_retry", "endpoint_down",
                                                      "endpoint_recovered", "tls_client_failure"};

}  // namespace

std::span<const CauseInfo> allCauses() { return std::span(kCauses).subspan(1); }
const CauseInfo& causeInfo(FailureCause cause) { return kCauses[static_cast<size_t>(cause)]; }
std::string_view causeName(FailureCause cause) { return causeInfo(cause).name; }
std::optional<FailureCause> causeByName(std::string_view name) {
  for (const auto& info : allCauses()) {
    if (info.name == name) return info.cause;
  }
  return std::nullopt;
}
std::string_view episodeMeaning(FailureCause cause) {
  const std::string_view meaning = causeInfo(cause).episode;
  return meaning.empty() ? kBurst : meaning;
}
std::span<const std::string_view> eventHintNames() { return kEventHints; }

FailureCause causeForUpstreamStatus(int status) {
  if (status == 503) return FailureCause::UpstreamUnavailable;
  if (status == 502 || status == 504) return FailureCause::UpstreamGatewayError;
  if (status >= 500) return FailureCause::UpstreamAppError;
  return FailureCause::None;
}

std::string_view tlsClientFailureName(TlsClientFailure reason) {
  switch (reason) {
    case TlsClientFailure::PlaintextHttp:
      return "plaintext_http";
    case TlsClientFailure::NoSharedVersion:
      return "no_shared_version";
    case TlsClientFailure::NoSharedCipher:
      return "no_shared_cipher";
    case TlsClientFailure::UnknownSni:
      return "unknown_sni";
    case TlsClientFailure::ClientAlert:
      return "client_alert";
    case TlsClientFailure::BadHello:
      return "bad_hello";
    case TlsClientFailure::Closed:
      return "closed";
    case TlsClientFailure::Timeout:
      return "timeout";
    case TlsClientFailure::Other:
      return "other";
  }
  return "other";
}

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
