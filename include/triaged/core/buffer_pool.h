#pragma once

// BufferPool: fixed-size blocks for the sockets of one event loop, recycled through a free list
// so that reading from a socket allocates nothing. A connection takes a block when bytes arrive
// and gives it back as soon as its owner has consumed them all, so an idle keep-alive connection
// holds no buffer and the blocks in use are about as many as connections with bytes pending.
// Owned by its EventLoop; loop thread only.

#include <cstddef>
#include <vector>

namespace triaged {

class BufferPool {
 public:
  // A 16 KiB body and its head arrive in one read.
  static constexpr size_t kBlockSize = 32 * 1024;
  // Free blocks kept for reuse (4 MiB); more than that go back to the allocator. One loop turn
  // may hold an output block for each client whose response is about to be flushed, so this is
  // sized for a busy worker's concurrency, not for one connection.
  static constexpr size_t kMaxFree = 128;

  BufferPool() { free_.reserve(kMaxFree); }
  ~BufferPool();
  BufferPool(const BufferPool&) = delete;
  BufferPool& operator=(const BufferPool&) = delete;

  // A block of kBlockSize bytes; aborts when memory is exhausted.
  char* take();
  void give(char* block);
  // Bytes given back to the allocator (blocks past kMaxFree) since the last call.
  size_t takeReleasedBytes() {
    const size_t n = released_;
    released_ = 0;
    return n;
  }

  size_t freeBlocksForTest() const { return free_.size(); }

 private:
  std::vector<char*> free_;
  size_t released_ = 0;
};

}  // namespace triaged
