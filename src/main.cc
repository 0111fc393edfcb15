// triaged's entry point: argument parsing and wiring only (like Envoy's source/exe).

#include <csignal>
#include <cstddef>
#include <cstdio>
#include <cstring>
#include <exception>
#include <string>
#include <string_view>
#include <vector>

#include "triaged/admin/fleet_cli.h"
#include "triaged/admin/health_cli.h"
#include "triaged/admin/triage_cli.h"
#include "triaged/config/config_loader.h"
#include "triaged/observe/loggers.h"
#include "triaged/server/daemon.h"

namespace {

constexpr const char* kUsage =
    "usage:\n"
    "  triaged --config FILE                 run the daemon\n"
    "  triaged --check-config --config FILE  validate the configuration and exit\n"
    "  triaged --version                     print the version\n"
    "  triaged triage --admin HOST:PORT      print a running daemon's triage report\n"
    "  triaged health --admin HOST:PORT [--ready]\n"
    "                                        probe /healthz (/readyz): exit 0 on 200, else 1\n"
    "  triaged fleet --prometheus URL [--window 15m] [--selector SEL]\n"
    "                [--instance-label instance] [--node-label node] [--json]\n"
    "                                        what fails across every triaged Prometheus scrapes\n";

int usage(const char* problem) {
  if (problem != nullptr) std::fprintf(stderr, "triaged: %s\n", problem);
  std::fputs(kUsage, stderr);
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
#if defined(TRIAGED_LLHTTP_SSE42)
  // The HTTP parser was built for SSE4.2 (CMakeLists.txt); without it the first request would
  // die of SIGILL.
  if (__builtin_cpu_supports("sse4.2") == 0) {
    std::fputs(
        "triaged: this build needs a CPU with SSE4.2; rebuild with -DTRIAGED_LLHTTP_SSE42=OFF\n",
        stderr);
    return 1;
  }
#endif
  std::vector<std::string_view> args(argv + 1, argv + argc);
  std::string config_path;
  bool check_only = false;
  for (size_t i = 0; i < args.size(); ++i) {
    const auto a = args[i];
    if (a == "--version" || a == "-V") {
      std::printf("triaged %s\n", TRIAGED_VERSION);
      return 0;
    }
    if (a == "--help" || a == "-h") {
      std::fputs(kUsage, stdout);
      return 0;
    }
    if (a == "--check-config") {
      check_only = true;
    } else if (a == "--config" || a == "-c") {
      if (i + 1 >= args.size()) return usage("--config needs a file");
      config_path = std::string(args[++i]);
    } else if (a.rfind("--config=", 0) == 0) {
      config_path = std::string(a.substr(9));
    } else if (a == "triage") {
      return triaged::admin::runTriageCommand(std::vector<std::string_view>(
          args.begin() + static_cast<std::ptrdiff_t>(i) + 1, args.end()));
    } else if (a == "health") {
      return triaged::admin::runHealthCommand(std::vector<std::string_view>(
          args.begin() + static_cast<std::ptrdiff_t>(i) + 1, args.end()));
    } else if (a == "fleet") {
      return triaged::admin::runFleetCommand(std::vector<std::string_view>(
          args.begin() + static_cast<std::ptrdiff_t>(i) + 1, args.end()));
    } else {
      return usage(("unknown argument: " + std::string(a)).c_str());
    }
  }
  if (config_path.empty()) return usage("--config FILE is required");

  triaged::config::Config config;
  try {
    config = triaged::config::loadConfigFile(config_path);
  } catch (const triaged::config::ConfigError& e) {
    for (const auto& p : e.problems()) std::fprintf(stderr, "%s\n", p.format().c_str());
    return 1;
  }
  if (check_only) {
    std::printf("config OK\n");
    return 0;
  }

  // A peer that vanishes mid-write must be an error code, not a process-killing signal.
  std::signal(SIGPIPE, SIG_IGN);
  triaged::observe::initLogging(config.log);
  try {
    triaged::server::Daemon daemon(std::move(config), config_path);
    return daemon.run();
  } catch (const std::exception& e) {
    triaged::observe::logger(triaged::observe::LoggerId::Server)
        .critical(triaged::observe::LogEvent("startup_failed").add("error", e.what()).str());
    return 1;
  }
}
