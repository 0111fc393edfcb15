#include "triaged/core/event_loop.h"

#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <memory>
#include <thread>
#include <vector>

#include "triaged/core/buffer_pool.h"

namespace triaged {
namespace {

using std::chrono::milliseconds;

struct Flagged final : DeferredDeletable {
  explicit Flagged(bool& flag) : destroyed(flag) {}
  ~Flagged() override { destroyed = true; }
  bool& destroyed;
};

}  // namespace

TEST_CASE("post() from another thread wakes the loop and runs on it", "[unit][core]") {
  EventLoop loop;
  std::atomic<bool> ran{false};
  std::thread::id ran_on;
  std::thread poster([&] {
    std::this_thread::sleep_for(milliseconds(20));
    loop.post([&] {
      ran_on = std::this_thread::get_id();
      ran = true;
      loop.exit();
    });
  });
  // run() blocks in epoll_wait until the eventfd wakes it: nothing else is pending.
  loop.run();
  poster.join();
  CHECK(ran);
  CHECK(ran_on == std::this_thread::get_id());
}

TEST_CASE("many posts before a turn all run, in order", "[unit][core]") {
  EventLoop loop;
  std::vector<int> order;
  for (int i = 0; i < 100; ++i) loop.post([&order, i] { order.push_back(i); });
  loop.post([&] { loop.exit(); });
  loop.run();
  REQUIRE(order.size() == 100);
  for (int i = 0; i < 100; ++i) CHECK(order[static_cast<size_t>(i)] == i);
}

TEST_CASE("deferredDelete destroys on the next turn, not at once", "[unit][core]") {
  EventLoop loop;
  bool destroyed = false;
  loop.deferredDelete(std::make_unique<Flagged>(destroyed));
  CHECK_FALSE(destroyed);
  event_base_loop(loop.base(), EVLOOP_NONBLOCK);
  CHECK(destroyed);
}

TEST_CASE("a timer allocates nothing until armed, fires once, and can be re-armed",
          "[unit][core]") {
  EventLoop loop;
  int fired = 0;
  Timer t(loop, [&] {
    ++fired;
    loop.exit();
  });
  CHECK_FALSE(t.armed());
  t.disarm();  // harmless before the first arm
  t.arm(milliseconds(5));
  CHECK(t.armed());
  loop.run();
  CHECK(fired == 1);
  CHECK_FALSE(t.armed());
  t.arm(milliseconds(1));
  loop.run();
  CHECK(fired == 2);
}

TEST_CASE("the buffer pool recycles blocks and keeps at most kMaxFree", "[unit][core]") {
  BufferPool pool;
  char* a = pool.take();
  char* b = pool.take();
  CHECK(a != b);
  pool.give(a);
  CHECK(pool.freeBlocksForTest() == 1);
  CHECK(pool.take() == a);  // the block just given back is reused
  pool.give(a);
  pool.give(b);
  std::vector<char*> many;
  for (size_t i = 0; i < BufferPool::kMaxFree + 10; ++i) many.push_back(pool.take());
  for (char* m : many) pool.give(m);
  CHECK(pool.freeBlocksForTest() == BufferPool::kMaxFree);
  pool.give(nullptr);  // ignored
  CHECK(pool.freeBlocksForTest() == BufferPool::kMaxFree);
}

}  // namespace triaged
