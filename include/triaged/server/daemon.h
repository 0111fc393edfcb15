#pragma once

// Daemon: the process. Owns the main thread's loop (signals, admin endpoints, reloads), the
// configuration in force (as a RuntimeSnapshot), the metrics registry, the triage store and the
// workers. Binds every listener before any worker starts, so a bad address fails startup, and
// announces readiness with one "listening" log line.
//
// Reload (SIGHUP, or a change of the file with server.watch_config): the file is validated as
// --check-config does; on any problem every one is logged as FILE:LINE: KEY: reason and the old
// configuration stays, whole. Otherwise the new snapshot goes to every worker at its next loop
// turn (a changed listen address: the new listeners are bound first and replace the old ones
// without a gap); what cannot change in a running process (server.workers, server.dns_servers,
// log.format) refuses the reload, naming the key. One config_reloaded line says what changed.

#include <sys/stat.h>

#include <atomic>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "triaged/admin/admin_server.h"
#include "triaged/config/config.h"
#include "triaged/core/event_loop.h"
#include "triaged/observe/metrics.h"
#include "triaged/observe/triage_store.h"
#include "triaged/server/certificate_watch.h"
#include "triaged/server/runtime_snapshot.h"
#include "triaged/server/worker.h"

namespace triaged::server {

class Daemon {
 public:
  // `config` was loaded from `config_path`, which reloads read again.
  Daemon(config::Config config, std::string config_path);
  ~Daemon();
  Daemon(const Daemon&) = delete;
  Daemon& operator=(const Daemon&) = delete;

  // Binds, starts the workers, and serves until a signal drains the daemon. Returns the exit
  // code. Throws std::runtime_error for startup failures (bind errors and the like).
  int run();

 private:
  static void onSignal(evutil_socket_t sig, short, void* ctx) noexcept;
  void handleSignal(int sig);
  void ignoreSignalsAfterDrain();
  void onWorkerStopped();
  // Reads the file again and applies it, all or nothing. `trigger`: "SIGHUP" or "watch".
  void reload(std::string_view trigger);
  void reloadFailed(std::string_view trigger, std::string_view reason);
  std::unique_ptr<admin::AdminServer> makeAdmin(const config::HostPort& address);
  // Binds server.workers sockets on `listen` (SO_REUSEPORT); throws std::runtime_error.
  std::vector<int> bindDataListeners(const config::HostPort& listen,
                                     std::string* bound_text = nullptr,
                                     std::string_view key = "server.listen");
  std::vector<std::string> upstreamNames() const;
  // server.watch_config: every second, is the file (through its symlinks) another one?
  void checkConfigFile();
  // server.tls_listen: one listening socket per worker (SO_REUSEPORT) and the serving context;
  // returns the bound address. Throws std::runtime_error at startup.
  std::string bindTlsListeners(std::vector<int>& fds,
                               std::shared_ptr<const net::TlsServerContext>& context);

  EventLoop loop_;  // first: destroyed last
  std::string config_path_;
  uint64_t open_files_;   // the descriptor limit in force (raised at start)
  SnapshotPtr snapshot_;  // the configuration in force
  observe::MetricsRegistry metrics_;
  observe::TriageStore triage_;
  std::unique_ptr<admin::AdminServer> admin_;
  std::vector<std::unique_ptr<Worker>> workers_;
  std::unique_ptr<CertificateWatch> certificate_watch_;  // with server.tls_listen
  std::vector<EventPtr> signal_events_;
  std::atomic<bool> draining_{false};
  uint32_t stopped_workers_ = 0;
  int signals_seen_ = 0;
  Timer watch_timer_;
  struct FileStamp {
    dev_t dev = 0;
    ino_t ino = 0;
    int64_t mtime_ns = 0;
    off_t size = -1;
    bool operator==(const FileStamp&) const = default;
  };
  FileStamp watched_;
};

}  // namespace triaged::server
