#include "triaged/server/daemon.h"

#include <signal.h>
#include <unistd.h>

#include <csignal>
#include <optional>
#include <stdexcept>

#include "triaged/config/config_json.h"
#include "triaged/config/config_loader.h"
#include "triaged/net/socket_address.h"
#include "triaged/observe/loggers.h"
#include "triaged/server/descriptor_budget.h"

namespace triaged::server {

Daemon::Daemon(config::Config config)
    : config_(std::move(config)),
      router_(config_.routes),
      hints_(config::buildHintCatalog(config_)),
      metrics_(
          [this] {
            std::vector<std::string> names;
            for (const auto& u : config_.upstreams) names.push_back(u.name);
            return names;
          }(),
          config_.server.workers, TRIAGED_VERSION),
      triage_(config_.server.workers) {}

Daemon::~Daemon() {
  for (auto& w : workers_) w->requestStop();
  for (auto& w : workers_) w->join();
  workers_.clear();
  admin_.reset();
  signal_events_.clear();
}

int Daemon::run() {
  auto& log = observe::logger(observe::LoggerId::Server);
  const uint64_t open_files = raiseDescriptorLimit();
  if (config_.server.max_client_connections == 0) {
    config_.server.max_client_connections = clientConnectionsFor(open_files);
  }
  auto listen_addr = net::socketAddressFromLiteral(config_.server.listen);
  if (!listen_addr) {
    throw std::runtime_error("server.listen must be an IP address: " + listen_addr.error().message);
  }
  const uint32_t workers = config_.server.workers;
  // The first socket learns the port (port 0 = any free one); the others share it through
  // SO_REUSEPORT, and the kernel spreads connections between the workers.
  std::vector<int> fds;
  auto first = net::bindListener(*listen_addr, /*reuse_port=*/true);
  if (!first) throw std::runtime_error("server.listen: " + first.error().message);
  fds.push_back(*first);
  auto bound = net::localAddress(*first);
  if (!bound) throw std::runtime_error(bound.error().message);
  for (uint32_t i = 1; i < workers; ++i) {
    auto fd = net::bindListener(*bound, /*reuse_port=*/true);
    if (!fd) throw std::runtime_error("server.listen: " + fd.error().message);
    fds.push_back(*fd);
  }

  std::vector<int> tls_fds;
  std::shared_ptr<const net::TlsServerContext> tls_context;
  std::optional<net::SocketAddress> tls_bound;
  if (config_.server.tls_listen) tls_bound = bindTlsListeners(tls_fds, tls_context);

  if (config_.server.admin_listen) {
    auto admin_addr = net::socketAddressFromLiteral(*config_.server.admin_listen);
    if (!admin_addr) throw std::runtime_error("server.admin_listen must be an IP address");
    admin::AdminServer::Hooks hooks;
    hooks.draining = [this] { return draining_.load(); };
    hooks.metrics = [this] { return metrics_.serialize(); };
    hooks.config = [this] { return config::configToJson(config_); };
    hooks.triage = [this](bool text) {
      const auto report = triage_.report(std::chrono::system_clock::now());
      return text ? diagnose::triageReportText(report) : diagnose::triageReportJson(report);
    };
    admin_ = std::make_unique<admin::AdminServer>(loop_, *admin_addr, std::move(hooks),
                                                  metrics_.adminListener());
  }

  for (uint32_t i = 0; i < workers; ++i) {
    workers_.push_back(
        std::make_unique<Worker>(config_, router_, hints_, metrics_.worker(i), triage_.worker(i),
                                 fds[i], i, [this] { loop_.post([this] { onWorkerStopped(); }); }));
  }

  if (tls_context) {
    for (uint32_t i = 0; i < workers; ++i) workers_[i]->addTlsListener(tls_fds[i], tls_context);
    certificate_watch_ = std::make_unique<CertificateWatch>(
        loop_, config_.server.tls_cert, config_.server.tls_key, tls_context,
        metrics_.certificates(), [this](std::shared_ptr<const net::TlsServerContext> context) {
          for (auto& w : workers_) w->setTlsContext(context);
        });
  }

  for (int sig : kDaemonSignals) {
    EventPtr ev(evsignal_new(loop_.base(), sig, &Daemon::onSignal, this));
    if (!ev || evsignal_add(ev.get(), nullptr) != 0) {
      throw std::runtime_error("cannot install signal handler");
    }
    signal_events_.push_back(std::move(ev));
  }

  for (auto& w : workers_) w->start();

  observe::LogEvent ready("listening");
  ready.add("listen", bound->toString());
  if (tls_bound) ready.add("tls_listen", tls_bound->toString());
  if (admin_) ready.add("admin", admin_->address().toString());
  ready.add("workers", workers)
      .add("max_open_files", open_files)
      .add("max_client_connections", config_.server.max_client_connections)
      .add("version", TRIAGED_VERSION)
      .add("pid", getpid());
  log.info(ready.str());

  loop_.run();
  ignoreSignalsAfterDrain();

  for (auto& w : workers_) w->join();
  log.info(observe::LogEvent("stopped").add("reason", "drained").str());
  return 0;
}

net::SocketAddress Daemon::bindTlsListeners(std::vector<int>& fds,
                                            std::shared_ptr<const net::TlsServerContext>& context) {
  net::TlsLoadError error;
  context = net::TlsServerContext::load(config_.server.tls_cert, config_.server.tls_key, error);
  if (!context) {
    throw std::runtime_error(
        std::string(error.file == net::TlsFile::Key ? "server.tls_key: " : "server.tls_cert: ") +
        error.reason);
  }
  auto addr = net::socketAddressFromLiteral(*config_.server.tls_listen);
  if (!addr) throw std::runtime_error("server.tls_listen must be an IP address");
  auto first = net::bindListener(*addr, /*reuse_port=*/true);
  if (!first) throw std::runtime_error("server.tls_listen: " + first.error().message);
  fds.push_back(*first);
  auto bound = net::localAddress(*first);
  if (!bound) throw std::runtime_error(bound.error().message);
  for (uint32_t i = 1; i < config_.server.workers; ++i) {
    auto fd = net::bindListener(*bound, /*reuse_port=*/true);
    if (!fd) throw std::runtime_error("server.tls_listen: " + fd.error().message);
    fds.push_back(*fd);
  }
  metrics_.setTlsListener(true);
  return *bound;
}

void Daemon::ignoreSignalsAfterDrain() {
  // Drained: a late SIGTERM (a supervisor's second one) must not turn a clean exit into 143.
  // Freeing a signal event puts back the disposition libevent found when it was added (SIG_DFL),
  // so the events go while the signals are blocked (the workers block them for good), and the
  // signals are ignored before they are let through again; one pending meanwhile is discarded.
  const sigset_t handled = daemonSignalSet();
  pthread_sigmask(SIG_BLOCK, &handled, nullptr);
  signal_events_.clear();
  for (int sig : kDaemonSignals) std::signal(sig, SIG_IGN);
  pthread_sigmask(SIG_UNBLOCK, &handled, nullptr);
}

void Daemon::onSignal(evutil_socket_t sig, short, void* ctx) noexcept {
  static_cast<Daemon*>(ctx)->handleSignal(static_cast<int>(sig));
}

void Daemon::handleSignal(int sig) {
  auto& log = observe::logger(observe::LoggerId::Server);
  if (sig == SIGHUP) {
    log.warn(observe::LogEvent("reload_unsupported")
                 .add("detail", "SIGHUP ignored: configuration reload is not implemented yet")
                 .str());
    return;
  }
  ++signals_seen_;
  if (signals_seen_ == 1) {
    // Readiness turns 503 first, so load balancers stop sending while in-flight work ends.
    draining_ = true;
    log.info(
        observe::LogEvent("draining")
            .add("signal", sig == SIGTERM ? "SIGTERM" : "SIGINT")
            .add("drain_timeout_ms", static_cast<int64_t>(config_.server.drain_timeout.count()))
            .str());
    for (auto& w : workers_) w->requestDrain();
  } else {
    log.warn(observe::LogEvent("forced_stop").add("detail", "second signal: closing now").str());
    for (auto& w : workers_) w->requestStop();
  }
}

void Daemon::onWorkerStopped() {
  if (++stopped_workers_ == workers_.size()) loop_.exit();
}

}  // namespace triaged::server
