// triaged_recording_upstream: the origin behind the conformance corpus (tests/conformance). It
// reads every request with its own strict parser (strict_request.h) and records exactly the
// bytes it received, per connection, for the runner to compare with a vector's verdict; it
// answers each request with its target (so a client can tell which request a response answers)
// or, once, with the raw bytes a response vector asks for.
//
//   triaged_recording_upstream [--listen 127.0.0.1:0]
// prints "LISTENING HOST:PORT CONTROL HOST:PORT". The control port takes one command per line:
//   respond ESCAPED        the next request is answered with these bytes (vector.h escapes)
//   respond-close ESCAPED  the same, then the connection is closed
//   clear                  forget the records                                -> "ok"
//   log MS                 once no connection holds part of a request (or after MS ms), the
//                          records, one per line, then "end":
//     accept C | request C ESCAPED | reject C REASON ESCAPED | partial C ESCAPED | close C
// Single-threaded poll() loop; exits 0 on SIGTERM or SIGINT. Loopback only by design.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "strict_request.h"
#include "vector.h"

namespace {

using Clock = std::chrono::steady_clock;

volatile std::sig_atomic_t g_stop = 0;
void onSignal(int) { g_stop = 1; }

int listenOn(const std::string& address, std::string& bound) {
  const size_t colon = address.rfind(':');
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(std::stoi(address.substr(colon + 1))));
  if (inet_pton(AF_INET, address.substr(0, colon).c_str(), &addr.sin_addr) != 1) return -1;
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  const int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || listen(fd, 512) != 0) {
    close(fd);
    return -1;
  }
  socklen_t len = sizeof addr;
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  bound = address.substr(0, colon) + ":" + std::to_string(ntohs(addr.sin_port));
  return fd;
}

void sendAll(int fd, std::string_view data) {
  while (!data.empty()) {
    const ssize_t n = send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n <= 0) {
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && errno == EAGAIN) {
        pollfd p{fd, POLLOUT, 0};
        poll(&p, 1, 1000);
        continue;
      }
      return;
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
}

struct DataConn {
  int fd = -1;
  int id = 0;
  std::string in;
  bool closing = false;
};

struct ControlConn {
  int fd = -1;
  std::string in;
  bool waiting = false;  // a "log" command waits for the connections to settle
  Clock::time_point deadline;
};

class Recorder {
 public:
  void add(std::string line) { records_.push_back(std::move(line)); }
  void clear() { records_.clear(); }
  std::string dump() const {
    std::string out;
    for (const auto& r : records_) out += r + "\n";
    return out + "end\n";
  }

 private:
  std::vector<std::string> records_;
};

std::string standardResponse(const conformance::StrictParse& p, int conn) {
  const std::string target = conformance::escape(p.target);
  std::string head = "HTTP/1.1 200 OK\r\nContent-Length: " + std::to_string(target.size()) +
                     "\r\nX-Seen-Target: " + target + "\r\nX-Seen-Conn: " + std::to_string(conn) +
                     "\r\n\r\n";
  if (p.method != "HEAD") head += target;
  return head;
}

}  // namespace

int main(int argc, char** argv) {
  std::string listen_address = "127.0.0.1:0";
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--listen" && i + 1 < argc) {
      listen_address = argv[++i];
    } else {
      fprintf(stderr, "usage: triaged_recording_upstream [--listen 127.0.0.1:PORT]\n");
      return 2;
    }
  }
  signal(SIGPIPE, SIG_IGN);
  signal(SIGTERM, onSignal);
  signal(SIGINT, onSignal);

  std::string data_bound;
  std::string control_bound;
  const int data_fd = listenOn(listen_address, data_bound);
  const int control_fd =
      listenOn(listen_address.substr(0, listen_address.rfind(':')) + ":0", control_bound);
  if (data_fd < 0 || control_fd < 0) {
    fprintf(stderr, "triaged_recording_upstream: cannot listen on %s\n", listen_address.c_str());
    return 1;
  }
  printf("LISTENING %s CONTROL %s\n", data_bound.c_str(), control_bound.c_str());
  fflush(stdout);

  std::vector<DataConn> conns;
  std::vector<ControlConn> controls;
  Recorder rec;
  int next_id = 1;
  std::string next_response;
  bool next_close = false;
  bool have_next = false;

  while (g_stop == 0) {
    std::vector<pollfd> fds;
    fds.push_back({data_fd, POLLIN, 0});
    fds.push_back({control_fd, POLLIN, 0});
    for (const auto& c : conns) fds.push_back({c.fd, POLLIN, 0});
    for (const auto& c : controls) fds.push_back({c.fd, POLLIN, 0});
    bool settled = true;
    for (const auto& c : conns) settled = settled && c.in.empty();
    int timeout = 1000;
    const auto now = Clock::now();
    for (auto& c : controls) {
      if (!c.waiting) continue;
      if (settled || now >= c.deadline) {
        sendAll(c.fd, rec.dump());
        c.waiting = false;
      } else {
        const auto left =
            std::chrono::duration_cast<std::chrono::milliseconds>(c.deadline - now).count();
        timeout = std::min(timeout, static_cast<int>(left) + 1);
      }
    }
    if (poll(fds.data(), fds.size(), timeout) < 0) continue;

    // Only the connections that were polled: accepts come last, so the indexes stay valid.
    const size_t polled_conns = conns.size();
    const size_t polled_controls = controls.size();
    for (size_t i = 0; i < polled_conns; ++i) {
      DataConn& c = conns[i];
      if ((fds[2 + i].revents & (POLLIN | POLLHUP | POLLERR)) == 0) continue;
      char buf[65536];
      const ssize_t n = recv(c.fd, buf, sizeof buf, 0);
      if (n <= 0) {
        if (!c.in.empty())
          rec.add("partial " + std::to_string(c.id) + " " + conformance::escape(c.in));
        rec.add("close " + std::to_string(c.id));
        c.in.clear();
        c.closing = true;
        continue;
      }
      c.in.append(buf, static_cast<size_t>(n));
      while (!c.in.empty() && !c.closing) {
        const conformance::StrictParse p = conformance::parseStrictRequest(c.in);
        if (p.status == conformance::StrictParse::Status::NeedMore) break;
        if (p.status == conformance::StrictParse::Status::Error) {
          std::string reason = conformance::escape(p.error);
          for (size_t at; (at = reason.find(' ')) != std::string::npos;) {
            reason.replace(at, 1, "\\x20");  // the reason is one word of the record
          }
          rec.add("reject " + std::to_string(c.id) + " " + reason + " " +
                  conformance::escape(c.in));
          sendAll(c.fd,
                  "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
          c.in.clear();
          rec.add("close " + std::to_string(c.id));
          c.closing = true;
          break;
        }
        rec.add("request " + std::to_string(c.id) + " " +
                conformance::escape(std::string_view(c.in).substr(0, p.length)));
        c.in.erase(0, p.length);
        if (have_next) {
          have_next = false;
          sendAll(c.fd, next_response);
          if (next_close) {
            c.in.clear();
            rec.add("close " + std::to_string(c.id));
            c.closing = true;
          }
        } else {
          sendAll(c.fd, standardResponse(p, c.id));
        }
      }
    }

    for (size_t i = 0; i < polled_controls; ++i) {
      ControlConn& c = controls[i];
      if ((fds[2 + polled_conns + i].revents & (POLLIN | POLLHUP | POLLERR)) == 0) continue;
      char buf[65536];
      const ssize_t n = recv(c.fd, buf, sizeof buf, 0);
      if (n <= 0) {
        close(c.fd);
        c.fd = -1;
        continue;
      }
      c.in.append(buf, static_cast<size_t>(n));
      size_t nl;
      while ((nl = c.in.find('\n')) != std::string::npos) {
        const std::string line = c.in.substr(0, nl);
        c.in.erase(0, nl + 1);
        const size_t sp = line.find(' ');
        const std::string cmd = line.substr(0, sp);
        const std::string arg = sp == std::string::npos ? "" : line.substr(sp + 1);
        if (cmd == "respond" || cmd == "respond-close") {
          std::string error;
          const auto bytes = conformance::unescape(arg, error);
          if (!bytes) {
            sendAll(c.fd, "error " + error + "\n");
            continue;
          }
          next_response = *bytes;
          next_close = cmd == "respond-close";
          have_next = true;
          sendAll(c.fd, "ok\n");
        } else if (cmd == "clear") {
          rec.clear();
          have_next = false;
          sendAll(c.fd, "ok\n");
        } else if (cmd == "log") {
          c.waiting = true;
          c.deadline = Clock::now() + std::chrono::milliseconds(arg.empty() ? 0 : std::stoi(arg));
        } else {
          sendAll(c.fd, "error unknown command\n");
        }
      }
    }

    if ((fds[0].revents & POLLIN) != 0) {
      const int fd = accept4(data_fd, nullptr, nullptr, SOCK_CLOEXEC);
      if (fd >= 0) {
        conns.push_back({fd, next_id++, {}, false});
        rec.add("accept " + std::to_string(conns.back().id));
      }
    }
    if ((fds[1].revents & POLLIN) != 0) {
      const int fd = accept4(control_fd, nullptr, nullptr, SOCK_CLOEXEC);
      if (fd >= 0) controls.push_back({fd, {}, false, {}});
    }

    // Closed connections go last, so that the poll indexes above stayed valid.
    for (auto& c : conns) {
      if (c.closing && c.fd >= 0) {
        close(c.fd);
        c.fd = -1;
      }
    }
    std::erase_if(conns, [](const DataConn& c) { return c.fd < 0; });
    std::erase_if(controls, [](const ControlConn& c) { return c.fd < 0; });
  }
  for (auto& c : conns) close(c.fd);
  for (auto& c : controls) close(c.fd);
  close(data_fd);
  close(control_fd);
  return 0;
}
