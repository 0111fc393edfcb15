#include "triaged/server/certificate_watch.h"

#include "triaged/observe/loggers.h"

namespace triaged::server {

CertificateWatch::CertificateWatch(EventLoop& loop, std::string cert_file, std::string key_file,
                                   std::shared_ptr<const net::TlsServerContext> current,
                                   observe::CertificateExpiry& expiry, OnChange on_change)
    : loop_(loop),
      cert_file_(std::move(cert_file)),
      key_file_(std::move(key_file)),
      current_(std::move(current)),
      expiry_(expiry),
      on_change_(std::move(on_change)),
      cert_stamp_(stampOf(cert_file_)),
      key_stamp_(stampOf(key_file_)),
      timer_(loop, [this] { check(); }) {
  publish();
  timer_.arm(kInterval);
}

CertificateWatch::Stamp CertificateWatch::stampOf(const std::string& path) {
  Stamp s;
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return s;
  s.mtime = st.st_mtim;
  s.size = st.st_size;
  s.inode = st.st_ino;
  return s;
}

void CertificateWatch::check() {
  loop_.refreshNow();
  const Stamp cert = stampOf(cert_file_);
  const Stamp key = stampOf(key_file_);
  if (!(cert == cert_stamp_) || !(key == key_stamp_)) {
    // Remembered before loading: a pair that fails is reported once, not every interval; the
    // next write to either file tries again.
    cert_stamp_ = cert;
    key_stamp_ = key;
    reload();
  }
  checkExpiry();
  timer_.arm(kInterval);
}

void CertificateWatch::setFiles(std::string cert_file, std::string key_file) {
  cert_file_ = std::move(cert_file);
  key_file_ = std::move(key_file);
  cert_stamp_ = stampOf(cert_file_);
  key_stamp_ = stampOf(key_file_);
}

bool CertificateWatch::reload() {
  auto& log = observe::logger(observe::LoggerId::Server);
  net::TlsLoadError error;
  auto loaded = net::TlsServerContext::load(cert_file_, key_file_, error);
  if (!loaded) {
    log.error(
        observe::LogEvent("tls_certificate_reload_failed")
            .add("key", error.file == net::TlsFile::Key ? "server.tls_key" : "server.tls_cert")
            .add("reason", error.reason)
            .add("detail", "the certificate in use stays until the files load")
            .str());
    return false;
  }
  const auto& before = current_->certificate().facts;
  const auto& after = loaded->certificate().facts;
  current_ = std::move(loaded);
  log.info(observe::LogEvent("tls_certificate_reloaded")
               .add("subject", after.subject)
               .add("not_after", after.not_after)
               .add("previous_not_after", before.not_after)
               .str());
  publish();
  expiry_state_ = 0;
  checkExpiry();
  on_change_(current_);
  return true;
}

void CertificateWatch::publish() {
  const auto& cert = current_->certificate();
  expiry_.setServing(cert.facts.subject, cert.not_after_unix);
}

void CertificateWatch::checkExpiry() {
  const auto& cert = current_->certificate();
  const auto now = std::chrono::system_clock::now();
  const auto not_after =
      std::chrono::system_clock::time_point(std::chrono::seconds(cert.not_after_unix));
  const int state = now >= not_after ? 2 : now + kExpiryWarning >= not_after ? 1 : 0;
  if (state == expiry_state_ || state == 0) {
    expiry_state_ = state;
    return;
  }
  expiry_state_ = state;
  // Reported, never fatal: clients see the expired certificate, and the operator this line and
  // the triaged_tls_certificate_expiry_timestamp_seconds alert.
  observe::logger(observe::LoggerId::Server)
      .warn(observe::LogEvent(state == 2 ? "tls_certificate_expired" : "tls_certificate_expiring")
                .add("subject", cert.facts.subject)
                .add("not_after", cert.facts.not_after)
                .add("cert_file", cert_file_)
                .str());
}

}  // namespace triaged::server
