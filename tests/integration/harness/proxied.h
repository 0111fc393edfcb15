#pragma once

// What most integration tests start from: a fake upstream, and the real daemon in front of it
// with basicConfig() (one upstream "app", one route "/").

#include <string>

#include "harness/daemon_process.h"
#include "harness/fake_upstream.h"
#include "harness/http_client.h"

namespace triaged::test {

struct Proxied {
  // The extra keys are TOML lines appended inside [[upstream]] and [server] respectively.
  explicit Proxied(const std::string& extra_upstream_keys = "",
                   const std::string& extra_server_keys = "")
      : daemon(basicConfig(fake.address(), extra_upstream_keys, extra_server_keys)) {}

  HttpClient client() const { return HttpClient(daemon.port()); }

  FakeUpstream fake;  // declared first: started before the daemon that points at it
  DaemonProcess daemon;
};

}  // namespace triaged::test
