#include "triaged/core/buffer_pool.h"

#include <cstdlib>

namespace triaged {

BufferPool::~BufferPool() {
  for (char* b : free_) std::free(b);
}

char* BufferPool::take() {
  if (!free_.empty()) {
    char* b = free_.back();
    free_.pop_back();
    return b;
  }
  auto* b = static_cast<char*>(std::malloc(kBlockSize));
  if (b == nullptr) abort();
  return b;
}

void BufferPool::give(char* block) {
  if (block == nullptr) return;
  if (free_.size() < kMaxFree) {
    free_.push_back(block);
  } else {
    std::free(block);
    released_ += kBlockSize;
  }
}

}  // namespace triaged
