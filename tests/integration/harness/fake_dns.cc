#include "harness/fake_dns.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <optional>
#include <stdexcept>
#include <vector>

namespace triaged::test {
namespace {

constexpr size_t kHeaderBytes = 12;
constexpr uint8_t kRcodeNxDomain = 3;

// The length of the first question (name + QTYPE + QCLASS) starting after the header, or
// nullopt when the packet is not a query we can echo.
std::optional<size_t> questionLength(const uint8_t* packet, size_t len) {
  size_t i = kHeaderBytes;
  for (;;) {
    if (i >= len) return std::nullopt;
    const uint8_t label = packet[i];
    if (label == 0) {
      ++i;
      break;
    }
    if ((label & 0xC0) != 0) return std::nullopt;  // no compression inside a query's question
    i += static_cast<size_t>(label) + 1;
  }
  if (i + 4 > len) return std::nullopt;
  return i + 4 - kHeaderBytes;
}

}  // namespace

FakeDns::FakeDns() {
  fd_ = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd_ < 0) throw std::runtime_error("FakeDns: socket failed");
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t addr_len = sizeof addr;
  if (bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &addr_len) != 0 ||
      pipe2(wake_, O_CLOEXEC | O_NONBLOCK) != 0) {
    const std::string why = std::strerror(errno);
    close(fd_);
    throw std::runtime_error("FakeDns: bind failed: " + why);
  }
  port_ = ntohs(addr.sin_port);
  thread_ = std::thread([this] { serve(); });
}

FakeDns::~FakeDns() {
  const char stop = 'x';
  ssize_t ignored = write(wake_[1], &stop, 1);
  (void)ignored;  // the pipe is empty and non-blocking: a failure leaves serve() polling forever
  if (thread_.joinable()) thread_.join();
  close(fd_);
  close(wake_[0]);
  close(wake_[1]);
}

std::string FakeDns::address() const { return "127.0.0.1:" + std::to_string(port_); }

void FakeDns::serve() {
  std::vector<uint8_t> in(4096);
  for (;;) {
    pollfd fds[2] = {{fd_, POLLIN, 0}, {wake_[0], POLLIN, 0}};
    if (poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      return;
    }
    if (fds[1].revents != 0) return;
    if ((fds[0].revents & POLLIN) == 0) continue;

    sockaddr_in peer{};
    socklen_t peer_len = sizeof peer;
    const ssize_t n =
        recvfrom(fd_, in.data(), in.size(), 0, reinterpret_cast<sockaddr*>(&peer), &peer_len);
    if (n < 0) continue;  // EAGAIN or a transient error: poll again
    const auto len = static_cast<size_t>(n);
    if (len < kHeaderBytes || (in[2] & 0x80) != 0) continue;  // too short, or not a query
    const uint16_t qdcount = static_cast<uint16_t>((in[4] << 8) | in[5]);
    if (qdcount == 0) continue;
    const auto question = questionLength(in.data(), len);
    if (!question) continue;
    ++queries_;

    std::vector<uint8_t> out(kHeaderBytes + *question, 0);
    out[0] = in[0];  // ID
    out[1] = in[1];
    out[2] = static_cast<uint8_t>(0x80 | (in[2] & 0x79));  // QR, the query's opcode and RD
    out[3] = static_cast<uint8_t>(0x80 | kRcodeNxDomain);  // RA, NXDOMAIN
    out[5] = 1;                                            // QDCOUNT: the first question
    std::memcpy(out.data() + kHeaderBytes, in.data() + kHeaderBytes, *question);
    sendto(fd_, out.data(), out.size(), 0, reinterpret_cast<sockaddr*>(&peer), peer_len);
  }
}

}  // namespace triaged::test
