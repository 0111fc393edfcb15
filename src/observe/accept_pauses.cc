#include "triaged/observe/accept_pauses.h"

#include <cstring>

#include "triaged/net/listener.h"
#include "triaged/net/socket_address.h"
#include "triaged/observe/loggers.h"

namespace triaged::observe {
namespace {

// One full line per listener and reason per interval: a pause repeats every 100 ms while the
// limit lasts, and the count says how often.
constexpr uint32_t kBurst = 1;
constexpr std::chrono::milliseconds kInterval{10'000};

}  // namespace

AcceptPauseReporter::AcceptPauseReporter(EventLoop& loop, std::string listener,
                                         ListenerMetrics& metrics)
    : listener_(std::move(listener)), metrics_(metrics), lines_(loop, kBurst, kInterval) {}

void AcceptPauseReporter::onPause(int err, std::string_view detail) {
  const AcceptPause reason = acceptPauseFor(err);
  metrics_.pauses[static_cast<size_t>(reason)].add();
  LogEvent line("accept_paused");
  line.add("listener", listener_)
      .add("reason", acceptPauseName(reason))
      .addNameOrNull("errno", net::errnoName(err));
  if (err != 0) line.add("error", std::strerror(err));
  if (!detail.empty()) line.add("detail", detail);
  if (err != 0) {
    line.add("retry_in_ms", static_cast<int64_t>(net::Listener::kErrorPause.count()));
  }
  lines_.write("accept_paused", listener_, acceptPauseName(reason), line.str());
}

}  // namespace triaged::observe
