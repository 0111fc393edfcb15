// triaged_fake_upstream: the scripted HTTP/1.1 origin used by triaged's integration tests, the
// demo and the benchmark. It shares no code with triaged (own parser, own framing), so a bug in
// one cannot hide the same bug in the other. Single-threaded libevent; bodies are streamed with
// watermarks and never held whole in memory.
//
// Every request may carry a script in its query string (any path):
//   status=N  reason=TEXT  header=Name:Value (repeatable)  body=TEXT  size=N (pattern body)
//   chunked=1  trailer=Name:Value (repeatable, with chunked)  close_delimited=1  close=1
//   delay_headers=MS  delay_body=MS  chunk_delay=MS (between 16 KiB pieces)
//   no_continue=1 (ignore Expect: 100-continue)  early_response=1 (answer before the body, close;
//   with abort_unread=1 the close leaves the body unread, so the kernel sends RST)
//   interim=1NN interim_header=Name:Value (an interim head, e.g. 103 with Link, before the answer)
//   action=close_before_headers | reset_before_headers | partial_headers | close_mid_body |
//          reset_mid_body | stall_body | hang | garbage | bad_content_length | huge_headers |
//          close_after_response | reset_after_response |
//          close_on_next_request | reset_on_next_request (answer normally and keep the
//          connection; the next request on it is then met with FIN / RST and no byte)
//          after=N (bytes for *_mid_body, stall_body and huge_headers; default size/2 and 65536)
// Special paths: /echo (reports method, target, version, headers, body_bytes, body_fnv1a,
// body_framing, trailers), /ws (101 then raw echo), /__stats ({"connections","requests","open"};
// wait_connections=N wait_requests=N wait_open=N timeout_ms=MS turn it into a long-poll that
// answers once the counters match). A connection whose first request is /__stats is not counted.

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
          "                             [--idle-close-delay MS]\n"
          "  --listen             address to bind (default 127.0.0.1:0; [::1]:0 for IPv6)\n"
          "  --keepalive-timeout  idle keep-alive connections are closed after MS (default "
          "5000)\n"
          "  --idle-close-delay   at that deadline stop reading, close MS later (default 0): the\n"
          "                       window of the keep-alive race\n"
          "Prints 'LISTENING HOST:PORT' once bound. Exits 0 on SIGTERM or SIGINT.\n"
          "Per-request behaviour comes from the query string: status= size= chunked= header=\n"
          "delay_headers= action=... (see the comment at the top of main.cc).\n");
}

void onSignal(evutil_socket_t /*fd*/, short /*what*/, void* ctx) noexcept {
  event_base_loopexit(static_cast<event_base*>(ctx), nullptr);
}

}  // namespace

int main(int argc, char** argv) {
  std::string listen = "127.0.0.1:0";
  long keepalive_ms = 5000;
  long idle_close_delay_ms = 0;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if ((arg == "--listen" || arg == "--keepalive-timeout" || arg == "--idle-close-delay") &&
        i + 1 < argc) {
      std::string value = argv[++i];
      if (arg == "--listen") {
        listen = value;
      } else if (arg == "--idle-close-delay") {
        char* end = nullptr;
        idle_close_delay_ms = strtol(value.c_str(), &end, 10);
        if (end == value.c_str() || *end != '\0' || idle_close_delay_ms < 0) {
          fprintf(stderr, "triaged_fake_upstream: bad --idle-close-delay '%s'\n", value.c_str());
          return 2;
        }
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
    server.setIdleCloseDelay(std::chrono::milliseconds(idle_close_delay_ms));
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
