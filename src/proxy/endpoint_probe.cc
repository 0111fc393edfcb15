#include "triaged/proxy/endpoint_probe.h"

#include "triaged/proxy/upstream_cluster.h"

namespace triaged::proxy {

EndpointProbe::EndpointProbe(EventLoop& loop, UpstreamCluster& cluster, Endpoint& endpoint)
    : loop_(loop),
      cluster_(cluster),
      endpoint_(endpoint),
      interval_(loop, [this] { connect(); }),
      connect_timeout_(loop, [this] {
        dropConnection();
        if (running_) interval_.arm(EndpointHealth::kProbeInterval);
      }) {}

EndpointProbe::~EndpointProbe() {
  if (connection_) connection_->close();
}

void EndpointProbe::start() {
  if (running_) return;
  running_ = true;
  interval_.arm(EndpointHealth::kProbeInterval);
}

void EndpointProbe::stop() {
  running_ = false;
  interval_.disarm();
  connect_timeout_.disarm();
  dropConnection();
}

void EndpointProbe::connect() {
  if (!running_ || endpoint_.addresses.empty()) {
    if (running_) interval_.arm(EndpointHealth::kProbeInterval);
    return;
  }
  const auto& address = endpoint_.addresses[endpoint_.next_address % endpoint_.addresses.size()];
  const net::ConnectStart start = net::startConnect(address);
  if (start.fd < 0) {  // refused at once (loopback), or out of descriptors: try again later
    interval_.arm(EndpointHealth::kProbeInterval);
    return;
  }
  connection_ = std::make_unique<net::Connection>(loop_, start.fd, this, /*connecting=*/true);
  connect_timeout_.arm(cluster_.config().connect_timeout);
}

void EndpointProbe::onEvent(short what, int) {
  connect_timeout_.disarm();
  dropConnection();
  if ((what & net::kEventConnected) != 0) {
    // Accepting again. The cluster marks it healthy and stops this probe.
    cluster_.reportConnect(endpoint_, true, 0);
    return;
  }
  if (running_) interval_.arm(EndpointHealth::kProbeInterval);
}

void EndpointProbe::dropConnection() {
  if (!connection_) return;
  connection_->close();
  loop_.deferredDestroy(std::move(connection_));
}

}  // namespace triaged::proxy
