#pragma once

// EndpointProbe: while its endpoint is marked down (EndpointHealth), connects to it every
// EndpointHealth::kProbeInterval — a plain TCP connect, closed as soon as it succeeds, no request
// — and tells the cluster when one succeeds, so an endpoint that comes back is seen within a
// second even when no request would try it (its upstream has other, healthy endpoints). A failed
// probe is not reported: it would only repeat what the down mark already says. Owned by its
// Endpoint; runs on the worker's loop; idle (no timer, no socket) while the endpoint is healthy.

#include <memory>

#include "triaged/core/event_loop.h"
#include "triaged/net/connection.h"

namespace triaged::proxy {

class UpstreamCluster;
struct Endpoint;

class EndpointProbe final : public net::ConnectionCallbacks {
 public:
  EndpointProbe(EventLoop& loop, UpstreamCluster& cluster, Endpoint& endpoint);
  ~EndpointProbe() override;
  EndpointProbe(const EndpointProbe&) = delete;
  EndpointProbe& operator=(const EndpointProbe&) = delete;

  // Probes every interval from now on (no-op when already running).
  void start();
  // Stops probing; a connect under way is abandoned.
  void stop();
  bool running() const { return running_; }

  // ConnectionCallbacks (the probe's connection)
  void onReadable() override {}
  void onWriteDrained() override {}
  void onEvent(short what, int err) override;

 private:
  void connect();
  // Ends the connect under way; the connection dies on a later loop turn (we may be inside its
  // callback).
  void dropConnection();

  EventLoop& loop_;
  UpstreamCluster& cluster_;
  Endpoint& endpoint_;
  std::unique_ptr<net::Connection> connection_;
  Timer interval_;
  Timer connect_timeout_;
  bool running_ = false;
};

}  // namespace triaged::proxy
