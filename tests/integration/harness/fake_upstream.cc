#include "harness/fake_upstream.h"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <csignal>
#include <stdexcept>

#include "harness/daemon_process.h"
#include "harness/http_client.h"

namespace triaged::test {

FakeUpstream::FakeUpstream(std::vector<std::string> extra_args, std::string listen) {
  std::vector<std::string> argv{TRIAGED_FAKE_UPSTREAM_BINARY, "--listen", listen};
  argv.insert(argv.end(), extra_args.begin(), extra_args.end());
  process_ = std::make_unique<Process>("fake_upstream", std::move(argv));
  auto line =
      process_->waitForLine([](const std::string& l) { return l.rfind("LISTENING ", 0) == 0; }, 5s);
  if (!line) {
    throw std::runtime_error("fake upstream did not report LISTENING within 5 s; output:\n" +
                             process_->output());
  }
  std::string addr = line->substr(10);
  auto colon = addr.rfind(':');
  if (colon == std::string::npos) throw std::runtime_error("bad LISTENING line: " + *line);
  port_ = static_cast<uint16_t>(std::stoul(addr.substr(colon + 1)));
  host_ = addr.substr(0, colon);
  if (!host_.empty() && host_.front() == '[') host_ = host_.substr(1, host_.size() - 2);
}

std::string FakeUpstream::address() const {
  bool v6 = host_.find(':') != std::string::npos;
  return (v6 ? "[" + host_ + "]" : host_) + ":" + std::to_string(port_);
}

UpstreamStats FakeUpstream::fetch(const std::string& target,
                                  std::chrono::milliseconds timeout) const {
  HttpClient client(port_, host_);
  HttpClient::Options options;
  options.timeout = timeout;
  Response r = client.get(target, {{"Connection", "close"}}, options);
  if (r.status != 200 || !r.complete) {
    throw std::runtime_error("fake upstream /__stats failed: status " + std::to_string(r.status) +
                             " body '" + r.body + "'");
  }
  auto number = [&r](const char* key) {
    auto v = jsonField(r.body, key);
    if (!v) throw std::runtime_error("fake upstream /__stats without " + std::string(key));
    return static_cast<uint64_t>(std::stoull(*v));
  };
  return UpstreamStats{number("connections"), number("requests"), number("open")};
}

UpstreamStats FakeUpstream::stats() const { return fetch("/__stats", 5s); }

UpstreamStats FakeUpstream::waitForStats(const StatsWait& want,
                                         std::chrono::milliseconds timeout) const {
  std::string target = "/__stats?timeout_ms=" + std::to_string(timeout.count());
  if (want.connections) target += "&wait_connections=" + std::to_string(*want.connections);
  if (want.requests) target += "&wait_requests=" + std::to_string(*want.requests);
  if (want.open) target += "&wait_open=" + std::to_string(*want.open);
  return fetch(target, timeout + 5s);
}

UpstreamStats FakeUpstream::waitForOpen(uint64_t open, std::chrono::milliseconds timeout) const {
  StatsWait want;
  want.open = open;
  return waitForStats(want, timeout);
}

UpstreamStats FakeUpstream::waitForRequests(uint64_t requests,
                                            std::chrono::milliseconds timeout) const {
  StatsWait want;
  want.requests = requests;
  return waitForStats(want, timeout);
}

std::optional<int> FakeUpstream::stop(std::chrono::milliseconds timeout) {
  process_->signal(SIGTERM);
  return process_->waitExit(timeout);
}

uint16_t closedPort() {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) throw std::runtime_error("socket failed");
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof addr;
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    close(fd);
    throw std::runtime_error("bind failed");
  }
  close(fd);  // bound, never listened: connects get RST until someone else takes the port
  return ntohs(addr.sin_port);
}

}  // namespace triaged::test
