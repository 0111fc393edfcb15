#include "triaged/observe/tls_metrics.h"

#include <algorithm>

#include "triaged/diagnose/failure_table.h"
#include "triaged/observe/metrics.h"

namespace triaged::observe {

void CertificateExpiry::setServing(std::string subject, int64_t not_after) {
  std::lock_guard lock(mu_);
  serving_ = Entry{"", std::move(subject), not_after};
}

void CertificateExpiry::noteUpstream(const std::string& upstream, const std::string& endpoint,
                                     std::string subject, int64_t not_after) {
  std::lock_guard lock(mu_);
  upstream_[{upstream, endpoint}] = Entry{upstream, std::move(subject), not_after};
}

std::vector<CertificateExpiry::Entry> CertificateExpiry::snapshot() const {
  std::lock_guard lock(mu_);
  std::vector<Entry> out;
  if (serving_) out.push_back(*serving_);
  for (const auto& item : upstream_) {
    const Entry& entry = item.second;  // not a structured binding: clang 14 cannot capture one
    auto same = std::find_if(out.begin(), out.end(), [&entry](const Entry& e) {
      return e.upstream == entry.upstream && e.subject == entry.subject;
    });
    if (same == out.end()) {
      out.push_back(entry);
    } else {
      same->not_after = std::min(same->not_after, entry.not_after);
    }
  }
  return out;
}

void MetricsRegistry::collectTls(std::vector<prometheus::MetricFamily>& out) const {
  using prometheus::ClientMetric;
  const auto label = [](std::string name, std::string value) {
    return ClientMetric::Label{std::move(name), std::move(value)};
  };
  const auto family = [](const MetricDef& def) {
    prometheus::MetricFamily f;
    f.name = std::string(def.name);
    f.help = std::string(def.help);
    f.type = def.type;
    return f;
  };

  prometheus::MetricFamily expiry = family(kTlsCertificateExpiry);
  for (const auto& e : certificates_.snapshot()) {
    ClientMetric m;
    m.label = {label("upstream", e.upstream), label("subject", e.subject)};
    m.gauge.value = static_cast<double>(e.not_after);
    expiry.metric.push_back(std::move(m));
  }

  prometheus::MetricFamily client_failures = family(kTlsClientHandshakeFailures);
  if (tls_listener_) {
    for (size_t r = 0; r < diagnose::kTlsClientFailures; ++r) {
      uint64_t n = 0;
      for (const auto& w : workers_) n += w->tls_client_failures[r].get();
      // At 0 from the start, like the failures.
      ClientMetric m;
      m.label = {label("reason", std::string(diagnose::tlsClientFailureName(
                                     static_cast<diagnose::TlsClientFailure>(r))))};
      m.counter.value = static_cast<double>(n);
      client_failures.metric.push_back(std::move(m));
    }
  }

  prometheus::MetricFamily handshakes = family(kUpstreamTlsHandshakes);
  // Slot 0 is "no upstream"; an upstream removed by a reload keeps its slot and its counts.
  for (size_t u = 1; u < upstream_names_.size(); ++u) {
    for (size_t resumed = 0; resumed < 2; ++resumed) {
      uint64_t n = 0;
      for (const auto& w : workers_) n += w->upstreams[u]->tls_handshakes[resumed].get();
      if (n == 0) continue;
      ClientMetric m;
      m.label = {label("upstream", upstream_names_[u]),
                 label("resumed", resumed == 1 ? "true" : "false")};
      m.counter.value = static_cast<double>(n);
      handshakes.metric.push_back(std::move(m));
    }
  }
  for (auto* f : {&expiry, &client_failures, &handshakes}) out.push_back(std::move(*f));
}

}  // namespace triaged::observe
