#include "mount/block_cache.h"

namespace ckpt::mount {

Result<BlockCache::Block> BlockCache::Get(const std::string& key, const Loader& load) {
  std::unique_lock lock(mu_);
  for (;;) {
    auto it = slots_.find(key);
    if (it != slots_.end()) {
      recency_.splice(recency_.begin(), recency_, it->second.recency);
      ++stats_.hits;
      return it->second.block;
    }
    if (loading_.count(key) == 0) break;
    loaded_.wait(lock);
  }
  loading_.insert(key);
  ++stats_.misses;
  lock.unlock();
  return FinishLoad(key, load());
}

void BlockCache::Prefetch(const std::string& key, Loader load,
                          const std::function<void(std::function<void()>)>& run) {
  {
    std::lock_guard lock(mu_);
    if (slots_.count(key) != 0 || loading_.count(key) != 0) return;
    loading_.insert(key);
    ++stats_.prefetches;
  }
  run([this, key, load = std::move(load)] { (void)FinishLoad(key, load()); });
}

Result<BlockCache::Block> BlockCache::FinishLoad(const std::string& key,
                                                 Result<std::string> bytes) {
  std::lock_guard lock(mu_);
  loading_.erase(key);
  loaded_.notify_all();
  if (!bytes.ok()) return bytes.status();
  auto block = std::make_shared<const std::string>(std::move(*bytes));
  InsertLocked(key, block);
  return block;
}

void BlockCache::InsertLocked(const std::string& key, Block block) {
  if (block->size() > budget_) return;
  while (stats_.bytes + block->size() > budget_ && !recency_.empty()) {
    auto victim = slots_.find(recency_.back());
    stats_.bytes -= victim->second.block->size();
    --stats_.blocks;
    slots_.erase(victim);
    recency_.pop_back();
  }
  recency_.push_front(key);
  slots_.emplace(key, Slot{std::move(block), recency_.begin()});
  stats_.bytes += slots_.at(key).block->size();
  ++stats_.blocks;
}

BlockCache::Stats BlockCache::stats() const {
  std::lock_guard lock(mu_);
  return stats_;
}

}  // namespace ckpt::mount
