#include "triaged/admin/health_cli.h"

#include <chrono>
#include <cstdio>
#include <optional>
#include <string>

#include "triaged/admin/http_get.h"
#include "triaged/config/config_loader.h"

namespace triaged::admin {
namespace {

// Kubernetes' probe timeoutSeconds defaults to 1 s and the sidecar manifest uses 2 s: a probe
// that waited longer would be killed by the kubelet before it could say why.
constexpr std::chrono::milliseconds kDefaultTimeout{2000};

constexpr const char* kUsage =
    "usage: triaged health (--admin HOST:PORT | --config FILE) [--ready] [--timeout DURATION]\n"
    "  --admin HOST:PORT   the daemon's admin listener (server.admin_listen), e.g.\n"
    "                      127.0.0.1:9901 or [::1]:9901\n"
    "  --config FILE       the admin listener that FILE's server.admin_listen names\n"
    "                      (0.0.0.0 and :: are probed on 127.0.0.1 and ::1)\n"
    "  --ready             ask /readyz (serving, not draining) instead of /healthz (alive)\n"
    "  --timeout DURATION  give up after this long, e.g. 500ms or 3s (default 2s)\n"
    "Exit status: 0 when the daemon answers 200, 1 when it does not (the reason on\n"
    "stderr), 2 on a usage error. For a container HEALTHCHECK or a Kubernetes exec probe.\n";

int usageError(const std::string& problem) {
  std::fprintf(stderr, "triaged health: %s\n", problem.c_str());
  std::fputs(kUsage, stderr);
  return 2;
}

bool startsWith(std::string_view s, std::string_view prefix) {
  return s.substr(0, prefix.size()) == prefix;
}

// The first line of a body, cut at 120 bytes, with anything but printable ASCII shown as '?':
// enough to tell "draining" from another daemon's error page on one line of a probe's log.
std::string firstLine(std::string_view body) {
  constexpr size_t kMax = 120;
  body = body.substr(0, body.find_first_of("\r\n"));
  std::string out;
  for (const char c : body.substr(0, kMax)) out.push_back(c >= 0x20 && c < 0x7f ? c : '?');
  if (body.size() > kMax) out += "...";
  return out;
}

// The endpoint to probe for a daemon running with the configuration in `path`; nullopt after
// saying on stderr why there is none.
std::optional<HttpEndpoint> endpointFromConfig(const std::string& path) {
  config::Config config;
  try {
    config = config::loadConfigFile(path);
  } catch (const config::ConfigError& e) {
    const auto& problems = e.problems();
    std::fprintf(stderr, "triaged health: %s%s\n",
                 problems.empty() ? e.what() : problems.front().format().c_str(),
                 problems.size() > 1 ? " (and more: triaged --check-config)" : "");
    return std::nullopt;
  }
  if (!config.server.admin_listen) {
    std::fprintf(stderr, "triaged health: %s turns the admin listener off (admin_listen = \"\")\n",
                 path.c_str());
    return std::nullopt;
  }
  if (config.server.admin_listen->port == 0) {
    std::fprintf(stderr,
                 "triaged health: %s: server.admin_listen has port 0, chosen at start; use "
                 "--admin HOST:PORT\n",
                 path.c_str());
    return std::nullopt;
  }
  return parseHttpEndpoint(probeAddress(*config.server.admin_listen).toString());
}

}  // namespace

config::HostPort probeAddress(const config::HostPort& listen) {
  config::HostPort to = listen;
  if (listen.host == "0.0.0.0") to.host = "127.0.0.1";
  if (listen.host == "::") to.host = "::1";
  return to;
}

int runHealthCommand(const std::vector<std::string_view>& args) {
  std::optional<std::string_view> admin;
  std::optional<std::string_view> config_path;
  bool ready = false;
  std::chrono::milliseconds timeout = kDefaultTimeout;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string_view a = args[i];
    std::optional<std::string_view> timeout_text;
    if (a == "--help" || a == "-h") {
      std::fputs(kUsage, stdout);
      return 0;
    }
    if (a == "--ready") {
      ready = true;
    } else if (a == "--admin") {
      if (i + 1 >= args.size()) return usageError("--admin needs HOST:PORT");
      admin = args[++i];
    } else if (startsWith(a, "--admin=")) {
      admin = a.substr(8);
    } else if (a == "--config") {
      if (i + 1 >= args.size()) return usageError("--config needs a file");
      config_path = args[++i];
    } else if (startsWith(a, "--config=")) {
      config_path = a.substr(9);
    } else if (a == "--timeout") {
      if (i + 1 >= args.size()) return usageError("--timeout needs a duration, e.g. 2s");
      timeout_text = args[++i];
    } else if (startsWith(a, "--timeout=")) {
      timeout_text = a.substr(10);
    } else {
      return usageError("unknown argument: " + std::string(a));
    }
    if (timeout_text) {
      const auto parsed = config::parseDuration(*timeout_text);
      if (!parsed || parsed->count() <= 0) {
        return usageError("--timeout wants a positive duration such as 500ms or 2s, not '" +
                          std::string(*timeout_text) + "'");
      }
      timeout = *parsed;
    }
  }
  if (admin && config_path) return usageError("--admin and --config exclude each other");
  if (!admin && !config_path) return usageError("--admin HOST:PORT or --config FILE is required");
  std::optional<HttpEndpoint> target;
  if (admin) {
    target = parseHttpEndpoint(*admin);
    if (!target || !target->base_path.empty()) {
      return usageError("--admin wants HOST:PORT (IPv6 as [ADDR]:PORT), not '" +
                        std::string(*admin) + "'");
    }
  } else {
    target = endpointFromConfig(std::string(*config_path));
    if (!target) return 1;
  }

  const char* path = ready ? "/readyz" : "/healthz";
  HttpGetOptions options;
  options.timeout = timeout;
  options.user_agent = "triaged-health/" TRIAGED_VERSION;
  const HttpGetResult got = httpGet(*target, path, options);
  if (!got.reply) {
    std::fprintf(stderr, "triaged health: %s %s: %s\n",
                 got.unreachable ? "cannot reach admin listener" : "admin listener",
                 target->authority.c_str(), got.problem.c_str());
    return 1;
  }
  const HttpReply& reply = *got.reply;
  if (reply.status != 200) {
    const std::string said = firstLine(reply.body);
    std::fprintf(stderr, "triaged health: %s%s answered %d %s%s%s\n", target->authority.c_str(),
                 path, reply.status, firstLine(reply.reason).c_str(), said.empty() ? "" : ": ",
                 said.c_str());
    return 1;
  }
  std::printf("triaged health: %s%s answered 200\n", target->authority.c_str(), path);
  return 0;
}

}  // namespace triaged::admin
