#pragma once

// CertificateWatch: keeps the serving certificate current without a restart. Every kInterval it
// stats server.tls_cert and server.tls_key (following symlinks, so a Kubernetes Secret's atomic
// ..data swap counts as a change); when either changed it loads the pair, and hands the new
// context to `on_change` (which gives it to the workers: new connections use it, open ones keep
// theirs). A pair that does not load (a key written before its certificate, a typo) is logged
// and the old certificate stays. It also reports, once per state, a serving certificate that has
// expired or expires within kExpiryWarning, and keeps the expiry gauge current. reload() is the
// hook for configuration reload (SIGHUP, issue 25) to re-read at once. Main loop only; owned by
// the Daemon.

#include <sys/stat.h>

#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include "triaged/core/event_loop.h"
#include "triaged/net/tls.h"
#include "triaged/observe/tls_metrics.h"

namespace triaged::server {

class CertificateWatch {
 public:
  using OnChange = std::function<void(std::shared_ptr<const net::TlsServerContext>)>;
  static constexpr std::chrono::seconds kInterval{5};
  static constexpr std::chrono::hours kExpiryWarning{24 * 14};

  CertificateWatch(EventLoop& loop, std::string cert_file, std::string key_file,
                   std::shared_ptr<const net::TlsServerContext> current,
                   observe::CertificateExpiry& expiry, OnChange on_change);

  // Loads the files now; true when a new context was installed.
  bool reload();
  // Watches these files from now on (a reload may name others).
  void setFiles(std::string cert_file, std::string key_file);
  const std::shared_ptr<const net::TlsServerContext>& current() const { return current_; }

 private:
  struct Stamp {
    timespec mtime{};
    off_t size = -1;
    ino_t inode = 0;
    bool operator==(const Stamp& o) const {
      return mtime.tv_sec == o.mtime.tv_sec && mtime.tv_nsec == o.mtime.tv_nsec && size == o.size &&
             inode == o.inode;
    }
  };
  static Stamp stampOf(const std::string& path);
  void check();
  void publish();
  void checkExpiry();

  EventLoop& loop_;
  std::string cert_file_;
  std::string key_file_;
  std::shared_ptr<const net::TlsServerContext> current_;
  observe::CertificateExpiry& expiry_;
  OnChange on_change_;
  Stamp cert_stamp_;
  Stamp key_stamp_;
  // What was last said about the expiry (0 fine, 1 expiring soon, 2 expired), so it is said once.
  int expiry_state_ = 0;
  Timer timer_;
};

}  // namespace triaged::server
