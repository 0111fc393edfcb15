#include "triaged/net/connection.h"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "triaged/core/event_loop.h"
#include "triaged/net/socket_address.h"

namespace triaged::net {
namespace {

using std::chrono::milliseconds;

// Runs the loop until `done` holds or `limit` passes; true when it held.
bool runUntil(EventLoop& loop, const std::function<bool()>& done,
              milliseconds limit = milliseconds(2000)) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    event_base_loop(loop.base(), EVLOOP_NONBLOCK);
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::microseconds(200));
  }
  return true;
}

// Runs the loop for `d`, for the checks that something does not happen.
void runFor(EventLoop& loop, milliseconds d) {
  runUntil(
      loop, [] { return false; }, d);
}

// Records every callback; an optional hook runs inside onReadable / onEvent.
class Recorder : public ConnectionCallbacks {
 public:
  void onReadable() override {
    ++readable;
    if (conn != nullptr && consume) {
      received.append(conn->inputData());
      conn->consumeInput(conn->inputLength());
    }
    if (on_readable) on_readable();
  }
  void onWriteDrained() override { ++drained; }
  void onEvent(short what, int err) override {
    events.push_back(what);
    last_err = err;
    if (on_event) on_event(what);
  }

  Connection* conn = nullptr;
  bool consume = true;
  int readable = 0;
  int drained = 0;
  int last_err = 0;
  std::string received;
  std::vector<short> events;
  std::function<void()> on_readable;
  std::function<void(short)> on_event;
};

struct Pair {
  Pair() {
    int fds[2];
    REQUIRE(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fds) == 0);
    ours = fds[0];
    peer = fds[1];
  }
  ~Pair() {
    if (peer >= 0) ::close(peer);
  }
  void peerWrite(const std::string& s) const {
    REQUIRE(::send(peer, s.data(), s.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(s.size()));
  }
  std::string peerRead() const {
    std::string out;
    char buf[65536];
    ssize_t n;
    while ((n = ::recv(peer, buf, sizeof(buf), 0)) > 0) out.append(buf, static_cast<size_t>(n));
    return out;
  }
  int ours = -1;  // owned by the Connection under test
  int peer = -1;
};

// A connection under test over a socketpair, with its recorder wired in.
struct Wired {
  Wired() : c(loop, p.ours, &rec) { rec.conn = &c; }
  EventLoop loop;  // first: destroyed last
  Pair p;
  Recorder rec;
  Connection c;
};

}  // namespace

TEST_CASE("bytes from the peer reach onReadable and leave when consumed", "[unit][net]") {
  Wired w;
  auto& [loop, p, rec, c] = w;
  p.peerWrite("hello");
  REQUIRE(runUntil(loop, [&] { return rec.received == "hello"; }));
  CHECK(c.inputLength() == 0);
  // A consumed block goes back to the loop's pool at once: an idle connection holds none.
  CHECK(loop.buffers().freeBlocksForTest() == 1);
  p.peerWrite(" world");
  REQUIRE(runUntil(loop, [&] { return rec.received == "hello world"; }));
  CHECK(rec.events.empty());
}

TEST_CASE("writes never call back synchronously and go out in one flush", "[unit][net]") {
  Wired w;
  auto& [loop, p, rec, c] = w;
  runFor(loop, milliseconds(20));  // the first edges (writable) arrive
  c.write("GET / HTTP/1.1\r\n");
  c.write("Host: a\r\n\r\n");
  CHECK(rec.drained == 0);  // queued, not written inside write()
  CHECK(c.outputLength() > 0);
  REQUIRE(runUntil(loop, [&] { return rec.drained == 1; }));
  CHECK(c.outputLength() == 0);
  CHECK(p.peerRead() == "GET / HTTP/1.1\r\nHost: a\r\n\r\n");
}

TEST_CASE("data and FIN arriving together: onReadable first, then EOF", "[unit][net]") {
  Wired w;
  auto& [loop, p, rec, c] = w;
  p.peerWrite("last words");
  ::shutdown(p.peer, SHUT_WR);
  REQUIRE(runUntil(loop, [&] { return !rec.events.empty(); }));
  CHECK(rec.received == "last words");
  REQUIRE(rec.events.size() == 1);
  CHECK(rec.events[0] == (kEventEof | kEventReading));
}

TEST_CASE("a full input block stops reading until the owner consumes", "[unit][net]") {
  Wired w;
  auto& [loop, p, rec, c] = w;
  rec.consume = false;  // nothing has run yet: the loop has not turned
  const std::string big(BufferPool::kBlockSize + 5000, 'x');
  p.peerWrite(big);
  REQUIRE(runUntil(loop, [&] { return c.inputLength() == BufferPool::kBlockSize; }));
  // Nothing more is read while the block is full, however long we wait.
  runFor(loop, milliseconds(50));
  CHECK(c.inputLength() == BufferPool::kBlockSize);
  // Room for 1000 more: the block fills up again, the rest still waits in the kernel.
  c.consumeInput(1000);
  REQUIRE(runUntil(loop, [&] { return c.inputLength() == BufferPool::kBlockSize; }));
  runFor(loop, milliseconds(20));
  CHECK(c.inputLength() == BufferPool::kBlockSize);
  // Consumed whole: the last 4000 bytes arrive.
  c.consumeInput(c.inputLength());
  REQUIRE(runUntil(loop, [&] { return c.inputLength() == 4000; }));
  CHECK(c.inputData() == std::string(4000, 'x'));
}

TEST_CASE("disabled reads keep the bytes in the kernel until enabled again", "[unit][net]") {
  Wired w;
  auto& [loop, p, rec, c] = w;
  c.disableRead();
  p.peerWrite("later");
  runFor(loop, milliseconds(50));
  CHECK(rec.readable == 0);
  c.enableRead();
  REQUIRE(runUntil(loop, [&] { return rec.received == "later"; }));
}

TEST_CASE("read timeout fires after silence and is pushed back by activity", "[unit][net]") {
  Wired w;
  auto& [loop, p, rec, c] = w;
  const auto start = std::chrono::steady_clock::now();
  c.setTimeouts(milliseconds(120), milliseconds(0));
  // Activity at 60 ms moves the deadline to about 180 ms.
  runFor(loop, milliseconds(60));
  p.peerWrite("x");
  REQUIRE(runUntil(
      loop, [&] { return !rec.events.empty(); }, milliseconds(2000)));
  const auto waited = std::chrono::steady_clock::now() - start;
  CHECK(rec.events[0] == (kEventTimeout | kEventReading));
  CHECK(waited >= milliseconds(170));
  CHECK(rec.received == "x");
}

TEST_CASE("a deadline fires once; a cleared one never", "[unit][net]") {
  Wired w;
  auto& [loop, p, rec, c] = w;
  c.setDeadline(loop.now() + milliseconds(30));
  REQUIRE(runUntil(loop, [&] { return !rec.events.empty(); }));
  CHECK(rec.events[0] == (kEventTimeout | kEventDeadline));
  runFor(loop, milliseconds(60));
  CHECK(rec.events.size() == 1);

  c.setDeadline(loop.now() + milliseconds(30));
  c.clearDeadline();
  runFor(loop, milliseconds(80));
  CHECK(rec.events.size() == 1);
}

TEST_CASE("the owner may destroy the connection inside its own callback", "[unit][net]") {
  EventLoop loop;
  Pair p;
  Recorder rec;
  auto c = std::make_unique<Connection>(loop, p.ours, &rec);
  rec.conn = c.get();
  rec.on_readable = [&] {
    rec.conn = nullptr;
    c.reset();  // a session releasing its upstream connection mid-callback
  };
  p.peerWrite("bye");
  ::shutdown(p.peer, SHUT_WR);  // an EOF would follow in the same event
  REQUIRE(runUntil(loop, [&] { return c == nullptr; }));
  runFor(loop, milliseconds(20));
  CHECK(rec.readable == 1);
  CHECK(rec.events.empty());  // nothing reached the owner after it was gone
  CHECK(loop.buffers().freeBlocksForTest() == 1);
}

TEST_CASE("close inside a callback stops every later callback", "[unit][net]") {
  Wired w;
  auto& [loop, p, rec, c] = w;
  rec.on_readable = [&] {
    c.write("reply");  // dropped by the close below
    c.close();
  };
  p.peerWrite("x");
  ::shutdown(p.peer, SHUT_WR);
  REQUIRE(runUntil(loop, [&] { return !c.open(); }));
  runFor(loop, milliseconds(20));
  CHECK(rec.events.empty());
  CHECK(p.peerRead().empty());
}

TEST_CASE("a large write to a slow reader arrives whole and in order", "[unit][net]") {
  Wired w;
  auto& [loop, p, rec, c] = w;
  std::string big;
  for (int i = 0; i < 200000; ++i) big += static_cast<char>('a' + i % 26);
  c.write(big);
  std::string got;
  REQUIRE(runUntil(
      loop,
      [&] {
        got += p.peerRead();
        return got.size() == big.size();
      },
      milliseconds(5000)));
  CHECK(got == big);
  REQUIRE(runUntil(loop, [&] { return rec.drained >= 1; }));
}

TEST_CASE("output past the block keeps its order behind the block's bytes", "[unit][net]") {
  Wired w;
  auto& [loop, p, rec, c] = w;
  const std::string head = "HEAD-";                     // into the block
  const std::string body(BufferPool::kBlockSize, 'b');  // does not fit: the overflow
  const std::string tail = "-TAIL";                     // fits, but must follow the body
  c.write(head);
  c.write(body);
  c.write(tail);
  CHECK(c.outputLength() == head.size() + body.size() + tail.size());
  std::string got;
  REQUIRE(runUntil(loop, [&] {
    got += p.peerRead();
    return got.size() == head.size() + body.size() + tail.size();
  }));
  CHECK(got == head + body + tail);
  REQUIRE(runUntil(loop, [&] { return rec.drained >= 1; }));
  // Everything written: the output block went back to the pool.
  CHECK(loop.buffers().freeBlocksForTest() == 1);
}

namespace {

// Two connections on one loop, as a proxy holds them: `from` (the upstream side, whose input the
// test "parses") and `to` (the client side).
struct Relay {
  Relay() : from(loop, a.ours, &from_rec), to(loop, b.ours, &to_rec) {
    from_rec.conn = &from;
    from_rec.consume = false;
  }
  EventLoop loop;  // first: destroyed last
  Pair a;
  Pair b;
  Recorder from_rec;
  Recorder to_rec;
  Connection from;
  Connection to;
};

std::string pattern(size_t n, char first) {
  std::string s(n, ' ');
  for (size_t i = 0; i < n; ++i) s[i] = static_cast<char>(static_cast<size_t>(first) + i % 23);
  return s;
}

}  // namespace

TEST_CASE("forwardInput: a body at the end of the input goes over without a copy", "[unit][net]") {
  Relay r;
  const std::string upstream_head = "UPSTREAM-HEAD\r\n\r\n";
  const std::string body = pattern(Connection::kLendMinimum + 3000, 'A');
  const std::string client_head = "CLIENT-HEAD\r\n";
  size_t free_while_lent = 0;
  r.from_rec.on_readable = [&] {
    const std::string_view in = r.from.inputData();
    if (in.size() < upstream_head.size() + body.size()) return;
    r.to.write(client_head);
    r.from.forwardInput(in.data() + upstream_head.size(), body.size(), r.to);
    r.from.consumeInput(in.size());
    // The block was lent, not given back: the pool has no more free blocks than before.
    free_while_lent = r.loop.buffers().freeBlocksForTest();
    CHECK(r.to.outputLength() == client_head.size() + body.size());
  };
  const size_t free_before = r.loop.buffers().freeBlocksForTest();
  r.a.peerWrite(upstream_head + body);
  std::string got;
  REQUIRE(runUntil(r.loop, [&] {
    got += r.b.peerRead();
    return got.size() >= client_head.size() + body.size();
  }));
  CHECK(got == client_head + body);
  CHECK(free_while_lent == free_before);
  REQUIRE(runUntil(r.loop, [&] { return r.to_rec.drained >= 1; }));
  // Sent: the lent block and the head's block are back in the pool.
  CHECK(r.loop.buffers().freeBlocksForTest() == free_before + 2);
}

TEST_CASE("forwardInput: a lent block stays intact while the lender reads on", "[unit][net]") {
  Relay r;
  runFor(r.loop, milliseconds(20));  // `to` becomes writable
  // Fill the client side's kernel buffer behind the connection's back: its output is empty, so
  // the first span is lent, and then it waits there, because the kernel takes nothing.
  std::string backlog;
  const std::string piece = pattern(4096, 'a');
  while (::send(r.to.fd(), piece.data(), piece.size(), MSG_DONTWAIT | MSG_NOSIGNAL) > 0) {
    backlog += piece;
  }
  const std::string first = pattern(Connection::kLendMinimum * 2, 'A');
  const std::string second = pattern(Connection::kLendMinimum * 3, 'K');
  std::string parsed;
  r.from_rec.on_readable = [&] {
    const std::string_view in = r.from.inputData();
    // The first is lent; the second is copied, behind it in `to`'s output. The lender reads it
    // into a block of its own while the lent one waits.
    r.from.forwardInput(in.data(), in.size(), r.to);
    parsed.append(in);
    r.from.consumeInput(in.size());
  };
  r.a.peerWrite(first);
  REQUIRE(runUntil(r.loop, [&] { return parsed.size() == first.size(); }));
  r.a.peerWrite(second);
  REQUIRE(runUntil(r.loop, [&] { return parsed.size() == first.size() + second.size(); }));
  std::string got;
  REQUIRE(runUntil(
      r.loop,
      [&] {
        got += r.b.peerRead();
        return got.size() >= backlog.size() + first.size() + second.size();
      },
      milliseconds(5000)));
  CHECK(got == backlog + first + second);
}

TEST_CASE("forwardInput: bytes the owner did not consume survive the lending", "[unit][net]") {
  Relay r;
  runFor(r.loop, milliseconds(20));  // `to` becomes writable, its output is empty
  const std::string body = pattern(Connection::kLendMinimum + 100, 'A');
  const std::string more = pattern(Connection::kLendMinimum + 500, 'M');
  bool lent_once = false;
  std::string kept;
  r.from_rec.on_readable = [&] {
    const std::string_view in = r.from.inputData();
    if (!lent_once) {
      if (in.size() < body.size()) return;
      lent_once = true;
      r.from.forwardInput(in.data(), in.size(), r.to);
      // The owner keeps the last 10 bytes for later (a parser that paused).
      r.from.consumeInput(in.size() - 10);
      CHECK(r.from.inputData() == std::string_view(body).substr(body.size() - 10));
      return;
    }
    kept.assign(in);
  };
  r.a.peerWrite(body);
  REQUIRE(runUntil(r.loop, [&] { return lent_once; }));
  // More bytes land behind the kept ones, in the connection's own block, not in the lent one.
  r.a.peerWrite(more);
  REQUIRE(runUntil(r.loop, [&] { return kept.size() == 10 + more.size(); }));
  CHECK(kept == body.substr(body.size() - 10) + more);
  std::string got;
  REQUIRE(runUntil(r.loop, [&] {
    got += r.b.peerRead();
    return got.size() >= body.size();
  }));
  CHECK(got == body);
}

TEST_CASE("writing to a peer that is gone reports an error while writing", "[unit][net]") {
  Wired w;
  auto& [loop, p, rec, c] = w;
  ::close(p.peer);
  p.peer = -1;
  c.write("nobody listens");
  REQUIRE(runUntil(loop, [&] { return !rec.events.empty(); }));
  // The hang-up may be seen by the read side first (EOF) or by the write (EPIPE).
  const short what = rec.events[0];
  CHECK(((what & kEventError) != 0 || (what & kEventEof) != 0));
}

TEST_CASE("connect: CONNECTED to a listener, ECONNREFUSED from a closed port", "[unit][net]") {
  EventLoop loop;
  // A listener on an ephemeral loopback port.
  const int lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  REQUIRE(lfd >= 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(bind(lfd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0);
  REQUIRE(listen(lfd, 4) == 0);
  socklen_t len = sizeof(addr);
  REQUIRE(getsockname(lfd, reinterpret_cast<sockaddr*>(&addr), &len) == 0);
  SocketAddress target;
  std::memcpy(&target.storage, &addr, sizeof(addr));
  target.length = sizeof(addr);

  SECTION("listening") {
    const ConnectStart s = startConnect(target);
    REQUIRE(s.fd >= 0);
    Recorder rec;
    Connection c(loop, s.fd, &rec, /*connecting=*/true);
    REQUIRE(runUntil(loop, [&] { return !rec.events.empty(); }));
    CHECK(rec.events[0] == kEventConnected);
    ::close(lfd);
  }
  SECTION("closed") {
    ::close(lfd);  // nothing listens there any more
    const ConnectStart s = startConnect(target);
    if (s.fd < 0) {
      CHECK(s.err == ECONNREFUSED);  // refused at once, as loopback usually does
    } else {
      Recorder rec;
      Connection c(loop, s.fd, &rec, /*connecting=*/true);
      REQUIRE(runUntil(loop, [&] { return !rec.events.empty(); }));
      runFor(loop, milliseconds(20));
      REQUIRE(rec.events.size() == 1);  // the error is the last word, no EOF after it
      CHECK(rec.events[0] == (kEventError | kEventWriting));
      CHECK(rec.last_err == ECONNREFUSED);
    }
  }
}

}  // namespace triaged::net
