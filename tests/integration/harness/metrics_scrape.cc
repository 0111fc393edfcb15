#include "harness/metrics_scrape.h"

#include <sstream>
#include <stdexcept>
#include <thread>

#include "harness/daemon_process.h"

namespace triaged::test {

double sample(const std::string& scrape, const std::string& series) {
  std::istringstream in(scrape);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(series + " ", 0) == 0) return std::stod(line.substr(series.size() + 1));
  }
  return 0;
}

double familySum(const std::string& scrape, const std::string& name) {
  std::istringstream in(scrape);
  std::string line;
  double sum = 0;
  while (std::getline(in, line)) {
    if (line.rfind(name, 0) != 0 || line.size() <= name.size()) continue;
    const char next = line[name.size()];
    if (next != '{' && next != ' ') continue;
    const auto space = line.rfind(' ');
    sum += std::stod(line.substr(space + 1));
  }
  return sum;
}

std::string scrapeMetrics(uint16_t admin_port) {
  if (admin_port == 0) throw std::runtime_error("the admin listener is disabled");
  HttpClient client(admin_port);
  Response r = client.get("/metrics", {{"Connection", "close"}});
  if (r.status != 200 || !r.complete) {
    throw std::runtime_error("GET /metrics answered " + std::to_string(r.status));
  }
  return r.body;
}

MetricsDelta::MetricsDelta(uint16_t admin_port)
    : admin_port_(admin_port), before_(scrapeMetrics(admin_port)), after_(before_) {}

MetricsDelta::MetricsDelta(const DaemonProcess& daemon) : MetricsDelta(daemon.adminPort()) {}

void MetricsDelta::after() { after_ = scrapeMetrics(admin_port_); }

void MetricsDelta::after(const std::string& settle_series, double settle_by,
                         std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  after();
  while (delta(settle_series) < settle_by && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(10ms);
    after();
  }
}

double MetricsDelta::delta(const std::string& series) const {
  return sample(after_, series) - sample(before_, series);
}

double MetricsDelta::familyDelta(const std::string& name) const {
  return familySum(after_, name) - familySum(before_, name);
}

}  // namespace triaged::test
