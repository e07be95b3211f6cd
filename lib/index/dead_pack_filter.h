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

#include <atomic>
#include <memory>
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
  std::atomic<std::shared_ptr<const PackIdSet>> packs_;
};

}  // namespace ckpt::internal
