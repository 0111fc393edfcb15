#include "triaged/server/daemon.h"

#include <signal.h>
#include <unistd.h>

#include <csignal>
#include <stdexcept>

#include "triaged/config/config_diff.h"
#include "triaged/config/config_json.h"
#include "triaged/config/config_loader.h"
#include "triaged/net/socket_address.h"
#include "triaged/observe/loggers.h"
#include "triaged/server/descriptor_budget.h"

namespace triaged::server {

namespace {

constexpr std::chrono::milliseconds kWatchInterval{1000};

}  // namespace

Daemon::Daemon(config::Config config, std::string config_path)
    : config_path_(std::move(config_path)),
      open_files_(raiseDescriptorLimit()),
      snapshot_(std::make_shared<const RuntimeSnapshot>(std::move(config), open_files_)),
      metrics_(upstreamNames(), snapshot_->config.server.workers, TRIAGED_VERSION),
      triage_(snapshot_->config.server.workers),
      watch_timer_(loop_, [this] { checkConfigFile(); }) {
  metrics_.setConfigHash(snapshot_->hash);
}

Daemon::~Daemon() {
  for (auto& w : workers_) w->requestStop();
  for (auto& w : workers_) w->join();
  workers_.clear();
  admin_.reset();
  signal_events_.clear();
}

std::vector<std::string> Daemon::upstreamNames() const {
  std::vector<std::string> names;
  for (const auto& u : snapshot_->config.upstreams) names.push_back(u.name);
  return names;
}

std::vector<int> Daemon::bindDataListeners(const config::HostPort& listen, std::string* bound_text,
                                           std::string_view key) {
  const std::string name(key);
  auto listen_addr = net::socketAddressFromLiteral(listen);
  if (!listen_addr) {
    throw std::runtime_error(name + " must be an IP address: " + listen_addr.error().message);
  }
  // The first socket learns the port (port 0 = any free one); the others share it through
  // SO_REUSEPORT, and the kernel spreads connections between the workers.
  std::vector<int> fds;
  const auto fail = [&fds](const std::string& why) {
    for (int fd : fds) ::close(fd);
    throw std::runtime_error(why);
  };
  auto first = net::bindListener(*listen_addr, /*reuse_port=*/true);
  if (!first) fail(name + ": " + first.error().message);
  fds.push_back(*first);
  auto bound = net::localAddress(*first);
  if (!bound) fail(bound.error().message);
  for (uint32_t i = 1; i < snapshot_->config.server.workers; ++i) {
    auto fd = net::bindListener(*bound, /*reuse_port=*/true);
    if (!fd) fail(name + ": " + fd.error().message);
    fds.push_back(*fd);
  }
  if (bound_text != nullptr) *bound_text = bound->toString();
  return fds;
}

std::unique_ptr<admin::AdminServer> Daemon::makeAdmin(const config::HostPort& address) {
  auto admin_addr = net::socketAddressFromLiteral(address);
  if (!admin_addr) throw std::runtime_error("server.admin_listen must be an IP address");
  admin::AdminServer::Hooks hooks;
  hooks.draining = [this] { return draining_.load(); };
  hooks.metrics = [this](bool openmetrics) {
    return openmetrics ? metrics_.serializeOpenMetrics() : metrics_.serialize();
  };
  // The configuration in force (the admin runs on the main thread, as reloads do).
  hooks.config = [this] { return config::configToJson(snapshot_->config); };
  hooks.triage = [this](bool text) {
    const auto report = triage_.report(std::chrono::system_clock::now());
    return text ? diagnose::triageReportText(report) : diagnose::triageReportJson(report);
  };
  return std::make_unique<admin::AdminServer>(loop_, *admin_addr, std::move(hooks),
                                              metrics_.adminListener());
}

int Daemon::run() {
  auto& log = observe::logger(observe::LoggerId::Server);
  const config::Config& config = snapshot_->config;
  std::string bound;
  std::vector<int> fds = bindDataListeners(config.server.listen, &bound);
  if (config.server.admin_listen) admin_ = makeAdmin(*config.server.admin_listen);
  std::vector<int> tls_fds;
  std::shared_ptr<const net::TlsServerContext> tls_context;
  std::string tls_bound;
  if (config.server.tls_listen) tls_bound = bindTlsListeners(tls_fds, tls_context);

  const auto names = upstreamNames();
  for (uint32_t i = 0; i < config.server.workers; ++i) {
    workers_.push_back(std::make_unique<Worker>(
        snapshot_, metrics_.worker(i), metrics_.upstreamSlots(i, names), triage_.worker(i), fds[i],
        [this] { loop_.post([this] { onWorkerStopped(); }); }));
  }

  if (tls_context) {
    for (uint32_t i = 0; i < workers_.size(); ++i)
      workers_[i]->addTlsListener(tls_fds[i], tls_context);
    certificate_watch_ = std::make_unique<CertificateWatch>(
        loop_, config.server.tls_cert, config.server.tls_key, tls_context, metrics_.certificates(),
        [this](std::shared_ptr<const net::TlsServerContext> context) {
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
  checkConfigFile();  // the watch's starting point (and the timer, when watching)

  observe::LogEvent ready("listening");
  ready.add("listen", bound);
  if (!tls_bound.empty()) ready.add("tls_listen", tls_bound);
  if (admin_) ready.add("admin", admin_->address().toString());
  ready.add("workers", config.server.workers)
      .add("max_open_files", open_files_)
      .add("max_client_connections", snapshot_->max_client_connections)
      .add("config_hash", snapshot_->hash)
      .add("version", TRIAGED_VERSION)
      .add("pid", getpid());
  log.info(ready.str());

  loop_.run();
  ignoreSignalsAfterDrain();

  for (auto& w : workers_) w->join();
  log.info(observe::LogEvent("stopped").add("reason", "drained").str());
  return 0;
}

void Daemon::reloadFailed(std::string_view trigger, std::string_view reason) {
  metrics_.countReload(false);
  observe::logger(observe::LoggerId::Config)
      .error(observe::LogEvent("config_reload_failed")
                 .add("trigger", trigger)
                 .add("file", config_path_)
                 .add("reason", reason)
                 .add("config_hash", snapshot_->hash)
                 .add("detail", "the configuration in force stays, unchanged")
                 .str());
}

void Daemon::reload(std::string_view trigger) {
  if (draining_) return;
  auto& log = observe::logger(observe::LoggerId::Config);
  config::Config next;
  try {
    next = config::loadConfigFile(config_path_);
  } catch (const config::ConfigError& e) {
    // Every problem on a line of its own, as --check-config prints them.
    for (const auto& p : e.problems()) {
      log.error(observe::LogEvent("config_problem").add("problem", p.format()).str());
    }
    reloadFailed(trigger, std::to_string(e.problems().size()) + " problem(s) in the file");
    return;
  }
  const auto restart = config::restartOnlyChanges(snapshot_->config, next);
  if (!restart.empty()) {
    std::string keys;
    for (const auto& k : restart) keys += (keys.empty() ? "" : ", ") + k;
    reloadFailed(trigger, keys + " changed, which needs a restart of triaged; nothing applied");
    return;
  }
  SnapshotPtr snapshot;
  std::vector<int> fds;
  std::unique_ptr<admin::AdminServer> admin;
  try {
    snapshot = std::make_shared<const RuntimeSnapshot>(std::move(next), open_files_);
    const config::ServerConfig& was = snapshot_->config.server;
    const config::ServerConfig& now = snapshot->config.server;
    // New listeners first: a bind that fails leaves everything as it was.
    if (!(now.listen == was.listen)) fds = bindDataListeners(now.listen);
    if (now.admin_listen && !(now.admin_listen == was.admin_listen)) {
      admin = makeAdmin(*now.admin_listen);
    }
  } catch (const config::ConfigError& e) {
    for (const auto& p : e.problems()) {
      log.error(observe::LogEvent("config_problem").add("problem", p.format()).str());
    }
    reloadFailed(trigger, "the hint catalog is invalid");
    return;
  } catch (const std::exception& e) {
    for (int fd : fds) ::close(fd);
    reloadFailed(trigger, e.what());
    return;
  }

  const config::ConfigDiff diff = config::diffConfigs(snapshot_->config, snapshot->config);
  const bool admin_changed =
      !(snapshot->config.server.admin_listen == snapshot_->config.server.admin_listen);
  const bool level_changed = snapshot->config.log.level != snapshot_->config.log.level;
  snapshot_ = snapshot;
  const auto names = upstreamNames();
  metrics_.configureUpstreams(names);
  for (uint32_t i = 0; i < workers_.size(); ++i) {
    workers_[i]->applySnapshot(snapshot_, metrics_.upstreamSlots(i, names),
                               fds.empty() ? -1 : fds[i]);
  }
  if (admin_changed) admin_ = std::move(admin);  // the new one is listening already
  if (level_changed) observe::setLogLevel(snapshot_->config.log.level);
  if (certificate_watch_) {
    // A reload re-reads the serving certificate too (its files may have new names, or the same
    // names and new contents); a pair that does not load keeps the one in force.
    certificate_watch_->setFiles(snapshot_->config.server.tls_cert,
                                 snapshot_->config.server.tls_key);
    certificate_watch_->reload();
  }
  metrics_.setConfigHash(snapshot_->hash);
  metrics_.countReload(true);
  observe::LogEvent line("config_reloaded");
  line.add("trigger", trigger)
      .add("file", config_path_)
      .add("config_hash", snapshot_->hash)
      .add("changes", diff.summary());
  if (!fds.empty()) line.add("listen", snapshot_->config.server.listen.toString());
  if (admin_changed && admin_) line.add("admin", admin_->address().toString());
  log.warn(line.str());
  checkConfigFile();  // watch_config may have been turned on or off
}

void Daemon::checkConfigFile() {
  struct stat st {};
  FileStamp now;
  // stat follows symlinks: a ConfigMap's ..data swap gives the path another inode.
  if (::stat(config_path_.c_str(), &st) == 0) {
    now = FileStamp{st.st_dev, st.st_ino,
                    static_cast<int64_t>(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec,
                    st.st_size};
  }
  const bool watching = snapshot_->config.server.watch_config;
  if (watching && watched_.size >= 0 && now.size >= 0 && !(now == watched_)) {
    watched_ = now;
    reload("watch");
    return;  // reload() checked again
  }
  if (now.size >= 0) watched_ = now;
  if (watching && !draining_) {
    watch_timer_.arm(kWatchInterval);
  } else {
    watch_timer_.disarm();
  }
}

std::string Daemon::bindTlsListeners(std::vector<int>& fds,
                                     std::shared_ptr<const net::TlsServerContext>& context) {
  const config::ServerConfig& server = snapshot_->config.server;
  net::TlsLoadError error;
  context = net::TlsServerContext::load(server.tls_cert, server.tls_key, error);
  if (!context) {
    throw std::runtime_error(
        std::string(error.file == net::TlsFile::Key ? "server.tls_key: " : "server.tls_cert: ") +
        error.reason);
  }
  std::string bound;
  fds = bindDataListeners(*server.tls_listen, &bound, "server.tls_listen");
  metrics_.setTlsListener(true);
  return bound;
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
    reload("SIGHUP");
    return;
  }
  ++signals_seen_;
  if (signals_seen_ == 1) {
    // Readiness turns 503 first, so load balancers stop sending while in-flight work ends.
    draining_ = true;
    log.info(observe::LogEvent("draining")
                 .add("signal", sig == SIGTERM ? "SIGTERM" : "SIGINT")
                 .add("drain_timeout_ms",
                      static_cast<int64_t>(snapshot_->config.server.drain_timeout.count()))
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
