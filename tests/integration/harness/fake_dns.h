#pragma once

// A tiny UDP DNS server on 127.0.0.1:0 for tests that need a name to fail: every query is
// answered NXDOMAIN (rcode 3) with the question echoed back and no records. It runs its own
// thread (poll() on the socket and a wake-up pipe), owned by this object; the destructor stops
// and joins the thread and closes the socket, so a failing test never leaks it.

#include <atomic>
#include <cstdint>
#include <string>
#include <thread>

namespace triaged::test {

class FakeDns {
 public:
  // Binds 127.0.0.1:0 and starts serving. Throws std::runtime_error when the socket fails.
  FakeDns();
  ~FakeDns();
  FakeDns(const FakeDns&) = delete;
  FakeDns& operator=(const FakeDns&) = delete;

  uint16_t port() const { return port_; }
  std::string address() const;  // "127.0.0.1:PORT", as dns_servers wants it
  // Well-formed queries received (and answered) so far.
  uint64_t queries() const { return queries_.load(); }

 private:
  void serve();

  int fd_ = -1;
  int wake_[2] = {-1, -1};  // written by the destructor to stop serve()
  uint16_t port_ = 0;
  std::atomic<uint64_t> queries_{0};
  std::thread thread_;
};

}  // namespace triaged::test
