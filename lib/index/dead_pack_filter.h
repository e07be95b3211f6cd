// index/dead_pack_filter: drops, during RocksDB compactions, the chunk
// entries ('C' keys) that point into packs the index no longer holds
// (condemned 'D' or gone 'G'). gc condemns a whole pack by deleting its
// 'P' key instead of deleting each of its chunk entries; this filter
// reclaims the entries later, at no cost to gc.
//
// Safe with a stale set: a pack, once condemned, never holds live chunks
// again (pack ids are never reused), so a set loaded earlier can only drop
// less than it could, never an entry still needed. An older version of a
// key that resurfaces when a newer one is dropped always points into an
// older, dead pack too: a chunk key is only ever overwritten when the pack
// of its current value is dead or being condemned in the same commit.
#pragma once

#include <rocksdb/compaction_filter.h>

#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_set>

namespace ckpt::internal {

// Binary pack ids (16 bytes each).
// Looked up by string_view: the filter sees every chunk entry of a
// compaction, and a 16-byte std::string key would allocate for each.
struct PackIdHash {
  using is_transparent = void;
  size_t operator()(std::string_view id) const { return std::hash<std::string_view>()(id); }
};
using PackIdSet = std::unordered_set<std::string, PackIdHash, std::equal_to<>>;

// Hands every compaction a filter over the dead-pack set current when the
// compaction starts.
class DeadPackFilterFactory : public rocksdb::CompactionFilterFactory {
 public:
  // Until the first call, compactions keep everything.
  void SetDeadPacks(std::shared_ptr<const PackIdSet> packs);
  std::shared_ptr<const PackIdSet> dead_packs() const;

  std::unique_ptr<rocksdb::CompactionFilter> CreateCompactionFilter(
      const rocksdb::CompactionFilter::Context& context) override;
  const char* Name() const override { return "ckpt.DeadPackFilterFactory"; }

 private:
  // A mutex, not std::atomic<std::shared_ptr>: GCC 12's libstdc++ ends that
  // load with a relaxed unlock, so a load on a compaction thread and a later
  // store race on the stored pointer (ThreadSanitizer reports it).
  mutable std::mutex mu_;
  std::shared_ptr<const PackIdSet> packs_;  // guarded by mu_
};

}  // namespace ckpt::internal
