#include "triaged/core/buffer_pool.h"

#include <catch2/catch.hpp>
#include <cstddef>
#include <vector>

namespace triaged {

TEST_CASE("BufferPool recycles blocks and keeps at most kMaxFree of them", "[buffer_pool]") {
  BufferPool pool;
  char* a = pool.take();
  pool.give(a);
  CHECK(pool.freeBlocksForTest() == 1);
  CHECK(pool.take() == a);  // the block just given back comes first
  CHECK(pool.freeBlocksForTest() == 0);
  pool.give(a);

  // A peak: more blocks in use at once than the pool keeps free.
  constexpr size_t kPeak = BufferPool::kMaxFree + 10;
  std::vector<char*> held;
  for (size_t i = 0; i < kPeak; ++i) held.push_back(pool.take());
  CHECK(pool.freeBlocksForTest() == 0);
  CHECK(pool.takeReleasedBytes() == 0);  // nothing went back to the allocator yet
  for (char* b : held) pool.give(b);
  CHECK(pool.freeBlocksForTest() == BufferPool::kMaxFree);
  CHECK(pool.takeReleasedBytes() == 10 * BufferPool::kBlockSize);
  CHECK(pool.takeReleasedBytes() == 0);  // counted once

  pool.give(nullptr);  // ignored
  CHECK(pool.freeBlocksForTest() == BufferPool::kMaxFree);
  CHECK(pool.takeReleasedBytes() == 0);
}

}  // namespace triaged
