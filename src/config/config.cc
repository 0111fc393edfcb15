#include "triaged/config/config.h"

namespace triaged::config {

std::string HostPort::toString() const {
  // An IPv6 literal without brackets would make the port ambiguous ("::1:80").
  const bool needs_brackets = host.find(':') != std::string::npos;
  std::string out;
  out.reserve(host.size() + 8);
  if (needs_brackets) out += '[';
  out += host;
  if (needs_brackets) out += ']';
  out += ':';
  out += std::to_string(port);
  return out;
}

const UpstreamConfig* Config::findUpstream(const std::string& name) const {
  for (const auto& upstream : upstreams) {
    if (upstream.name == name) return &upstream;
  }
  return nullptr;
}

}  // namespace triaged::config
