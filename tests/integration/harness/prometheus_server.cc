#include "harness/prometheus_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <csignal>
#include <stdexcept>
#include <thread>

#include "harness/test_support.h"

namespace triaged::test {

uint16_t freePort() {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) throw std::runtime_error("socket failed");
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    ::close(fd);
    throw std::runtime_error("bind failed");
  }
  ::close(fd);
  return ntohs(addr.sin_port);
}

bool PrometheusServer::installed() { return ::access(kBinary, X_OK) == 0; }

PrometheusServer::PrometheusServer(const std::vector<ScrapeTarget>& targets,
                                   const std::vector<std::string>& rule_files) {
  std::string config =
      "global:\n"
      "  scrape_interval: 1s\n"
      "  evaluation_interval: 1s\n";
  if (!rule_files.empty()) config += "rule_files:\n";
  for (const auto& file : rule_files) config += "  - \"" + file + "\"\n";
  config +=
      "scrape_configs:\n"
      "  - job_name: triaged\n"
      "    static_configs:\n";
  for (const auto& t : targets) {
    config += "      - targets: [\"127.0.0.1:" + std::to_string(t.port) + "\"]\n";
    if (t.labels.empty()) continue;
    config += "        labels:\n";
    for (const auto& [name, value] : t.labels)
      config += "          " + name + ": \"" + value + "\"\n";
  }
  config_path_ = dir_.write("prometheus.yml", config);
  // The port is free when picked but may be taken before Prometheus binds it: one retry.
  for (int attempt = 0; attempt < 2; ++attempt) {
    if (start()) return;
    if (!contains(process_->output(), "address already in use")) break;
  }
  throw std::runtime_error("prometheus did not become ready within 15 s:\n" + process_->output());
}

bool PrometheusServer::start() {
  port_ = freePort();
  process_.reset();  // a failed attempt is reaped before the next starts
  process_ = std::make_unique<Process>(
      "prometheus",
      std::vector<std::string>{
          kBinary, "--config.file=" + config_path_, "--storage.tsdb.path=" + dir_.path() + "/data",
          "--web.listen-address=127.0.0.1:" + std::to_string(port_), "--log.level=warn"});
  return pollUntil(
      [this] {
        auto r = get("/-/ready");
        return r && r->status == 200;
      },
      15s);
}

std::optional<Response> PrometheusServer::get(const std::string& target) const {
  try {
    HttpClient client(port_, "127.0.0.1", 1s);
    Response r = client.get(target, {}, ReadOptions{.timeout = 2s});
    if (r.status == 0) return std::nullopt;
    return r;
  } catch (const std::runtime_error&) {
    return std::nullopt;
  }
}

std::optional<std::string> PrometheusServer::query(const std::string& promql) const {
  std::string encoded;
  for (const char ch : promql) {
    const auto c = static_cast<unsigned char>(ch);
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_') {
      encoded.push_back(static_cast<char>(c));
    } else {
      static constexpr char kHex[] = "0123456789ABCDEF";
      encoded += {'%', kHex[c >> 4], kHex[c & 0xf]};
    }
  }
  auto r = get("/api/v1/query?query=" + encoded);
  if (!r || r->status != 200) return std::nullopt;
  return r->body;
}

bool PrometheusServer::pollUntil(const std::function<bool()>& done,
                                 std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    if (done()) return true;
    if (std::chrono::steady_clock::now() >= deadline || !process_->running()) return false;
    std::this_thread::sleep_for(100ms);
  }
}

std::optional<int> PrometheusServer::stop() {
  process_->signal(SIGTERM);
  return process_->waitExit(10s);
}

}  // namespace triaged::test
