#pragma once

// Certificates as metrics: the notAfter of the serving certificate and of every upstream's
// certificate as triaged last saw it, so that an alert fires weeks before an expiry becomes an
// outage. Process-wide: the certificate watch (serving side) and the workers (a new certificate
// seen in a handshake, not every handshake) write under a mutex; the admin thread reads at scrape
// time. Keyed by (upstream, endpoint), so a rotation replaces the old entry rather than adding a
// series per certificate ever seen.

#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace triaged::observe {

class CertificateExpiry {
 public:
  struct Entry {
    std::string upstream;  // "" for the serving certificate
    std::string subject;
    int64_t not_after = 0;  // seconds since the epoch
  };

  void setServing(std::string subject, int64_t not_after);
  void noteUpstream(const std::string& upstream, const std::string& endpoint, std::string subject,
                    int64_t not_after);
  // One entry per (upstream, subject): the earliest notAfter among its endpoints.
  std::vector<Entry> snapshot() const;

 private:
  mutable std::mutex mu_;
  std::optional<Entry> serving_;
  std::map<std::pair<std::string, std::string>, Entry> upstream_;  // (upstream, endpoint)
};

}  // namespace triaged::observe
