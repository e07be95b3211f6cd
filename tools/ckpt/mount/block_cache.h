// mount/block_cache: verified bytes read recently, kept within a byte
// budget, so that the small reads a file system receives (128 KiB from the
// kernel) do not decode the same chunk again for every piece of it.
//
// Thread-safety: safe to use from many threads at once.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <unordered_set>

#include "ckpt/result.h"

namespace ckpt::mount {

class BlockCache {
 public:
  using Block = std::shared_ptr<const std::string>;
  using Loader = std::function<Result<std::string>()>;

  struct Stats {
    uint64_t hits = 0;
    uint64_t misses = 0;
    uint64_t prefetches = 0;
    uint64_t bytes = 0;   // held now
    uint64_t blocks = 0;  // held now
  };

  // Keeps at most `budget_bytes` of blocks (0: keeps none), evicting the
  // least recently used first.
  explicit BlockCache(uint64_t budget_bytes) : budget_(budget_bytes) {}

  // The block named `key`, read with `load` on a miss. Threads missing the
  // same key at once wait for one load. A failed load is not cached: its
  // error goes to the caller, and the next Get tries again.
  Result<Block> Get(const std::string& key, const Loader& load);

  // Starts loading `key` with `load` through `run` (which runs a task,
  // perhaps on another thread) unless the block is cached or already being
  // loaded; a Get meanwhile waits for that load rather than starting its
  // own. A failed prefetch is dropped: the next Get loads again and returns
  // the error.
  void Prefetch(const std::string& key, Loader load,
                const std::function<void(std::function<void()>)>& run);

  Stats stats() const;

 private:
  struct Slot {
    Block block;
    std::list<std::string>::iterator recency;
  };

  // Ends the load of `key` begun by Get or Prefetch; returns the block.
  Result<Block> FinishLoad(const std::string& key, Result<std::string> bytes);
  void InsertLocked(const std::string& key, Block block);

  const uint64_t budget_;
  mutable std::mutex mu_;
  std::condition_variable loaded_;
  std::list<std::string> recency_;  // most recently used first
  std::unordered_map<std::string, Slot> slots_;
  std::unordered_set<std::string> loading_;
  Stats stats_;
};

}  // namespace ckpt::mount
