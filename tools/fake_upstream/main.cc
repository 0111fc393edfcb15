// triaged_fake_upstream: the scripted HTTP/1.1 origin used by triaged's integration tests, the
// demo and the benchmark. Each request's query string says how to misbehave (see README.md in
// this directory); the implementation shares no code with triaged.

#include <event2/event.h>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "libevent_handles.h"
#include "server.h"

namespace {

void usage(FILE* out) {
  fprintf(out,
          "usage: triaged_fake_upstream [--listen HOST:PORT] [--keepalive-timeout MS]\n"
          "  --listen             address to bind (default 127.0.0.1:0; [::1]:0 for IPv6)\n"
          "  --keepalive-timeout  idle keep-alive connections are closed after MS (default "
          "5000)\n"
          "Prints 'LISTENING HOST:PORT' once bound. Exits 0 on SIGTERM or SIGINT.\n");
}

void onSignal(evutil_socket_t /*fd*/, short /*what*/, void* ctx) noexcept {
  event_base_loopexit(static_cast<event_base*>(ctx), nullptr);
}

}  // namespace

int main(int argc, char** argv) {
  std::string listen = "127.0.0.1:0";
  long keepalive_ms = 5000;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if ((arg == "--listen" || arg == "--keepalive-timeout") && i + 1 < argc) {
      std::string value = argv[++i];
      if (arg == "--listen") {
        listen = value;
      } else {
        char* end = nullptr;
        keepalive_ms = strtol(value.c_str(), &end, 10);
        if (end == value.c_str() || *end != '\0' || keepalive_ms <= 0) {
          fprintf(stderr, "triaged_fake_upstream: bad --keepalive-timeout '%s'\n", value.c_str());
          return 2;
        }
      }
    } else if (arg == "--help" || arg == "-h") {
      usage(stdout);
      return 0;
    } else {
      fprintf(stderr, "triaged_fake_upstream: unknown argument '%s'\n", arg.c_str());
      usage(stderr);
      return 2;
    }
  }

  signal(SIGPIPE, SIG_IGN);
  fake_upstream::EventBasePtr base(event_base_new());
  if (!base) {
    fprintf(stderr, "triaged_fake_upstream: event_base_new failed\n");
    return 1;
  }
  int rc = 0;
  {
    fake_upstream::Server server(base.get(), std::chrono::milliseconds(keepalive_ms));
    std::string bound;
    std::string error;
    if (!server.listen(listen, bound, error)) {
      fprintf(stderr, "triaged_fake_upstream: %s\n", error.c_str());
      return 1;
    }
    fake_upstream::EventPtr sigterm(evsignal_new(base.get(), SIGTERM, onSignal, base.get()));
    fake_upstream::EventPtr sigint(evsignal_new(base.get(), SIGINT, onSignal, base.get()));
    if (!sigterm || !sigint || evsignal_add(sigterm.get(), nullptr) != 0 ||
        evsignal_add(sigint.get(), nullptr) != 0) {
      fprintf(stderr, "triaged_fake_upstream: cannot install signal handlers\n");
      return 1;
    }
    printf("LISTENING %s\n", bound.c_str());
    fflush(stdout);
    if (event_base_dispatch(base.get()) < 0) rc = 1;
  }
  return rc;
}
