// index/: the RocksDB index. Owns the key space and value encodings below,
// and the one place that talks to RocksDB. Everything in it can be rebuilt
// from packs and refs (see store/repairer; the layout is specified in docs/format.md).
//
// Keys (one-byte prefix, then):
//   'C' digest:32                   -> ChunkLocation
//   'M' checkpoint_id:32            -> CheckpointRecord
//   'I' checkpoint_id:32            -> CheckpointSummary   (what listings show, so that
//                                      they need not read whole manifests)
//   'R' run 0x00 step:fixed64-BE    -> checkpoint_id:32   (big-endian: sorts by step)
//   'T' tag                         -> checkpoint_id:32
//   'P' pack_id:16                  -> PackRecord   (the pack is indexed: a 'C' entry
//                                      counts only while the 'P' key of its pack exists)
//   'D' pack_id:16                  -> condemned_at_ns:fixed64   (gc: no longer indexed;
//                                      the file goes once the grace period has passed)
//   'G' pack_id:16                  -> checkpoint_id:32 ...   (gc: the file is deleted; the
//                                      ids are tombstones to remove once that is durable;
//                                      the key goes after a compaction has dropped every
//                                      'C' entry into the pack)
//   'S' run 0x00 step:fixed64-BE rank:fixed32-BE -> ShardRecord   (a shard of a sharded
//                                      checkpoint that is not complete yet)
//   'Y' run                         -> RetentionPolicy (run "" = the store-wide default)
//   'g'                             -> gc generation:fixed64 (index/pack_lifecycle.h)
//   'l'                             -> log position:fixed64   (a store in object storage:
//                                      the last record of the bucket's index log this
//                                      copy holds; local, never logged itself)
//   'i'                             -> store_id (hex)   (a store in object storage: whose
//                                      index this local copy is)
// Values:
//   ChunkLocation    := pack_id:16 offset:varint length:varint raw_length:varint codec:u8
//                       [base_digest:32 depth:u8]   (delta codecs only)
//   CheckpointRecord := new_bytes:varint new_raw_bytes:varint shared_bytes:varint
//                       manifest_location:lstr (a ChunkLocation: where the manifest's
//                       copy sits in a pack) manifest:lstr
//   CheckpointSummary := tensor_count:varint blob_count:varint logical_bytes:varint
//                       new_bytes:varint new_raw_bytes:varint shared_bytes:varint
//                       head:lstr (the manifest encoded without its entries)
//   PackRecord       := size:varint entry_count:varint
//   ShardRecord      := recorded_at_ns:fixed64 new_bytes:varint new_raw_bytes:varint
//                       shared_bytes:varint manifest:lstr (the shard's own entries)
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "ckpt/status.h"
#include "hash/sha256.h"

namespace ckpt::internal {

struct ChunkLocation {
  std::string pack_id;  // hex, 32 digits
  uint64_t offset = 0;
  uint32_t length = 0;
  uint32_t raw_length = 0;
  uint8_t codec = 0;
  // Delta chunks only: the chunk this one is a delta against, and how many
  // bases a load decodes first (1 if the base is stored whole).
  Digest base;
  uint8_t depth = 0;

  bool is_delta() const { return depth > 0; }
};

struct CheckpointRecord {
  ChunkLocation manifest_location;  // the manifest's entry in a pack (for gc and repair)
  uint64_t new_bytes = 0;
  uint64_t new_raw_bytes = 0;
  uint64_t shared_bytes = 0;
  std::string manifest;  // encoded manifest
};

// The checkpoint's listing: its manifest's fields but the entries, and
// what the entries add up to.
struct CheckpointSummary {
  uint64_t tensor_count = 0;  // a global tensor saved in pieces counts once
  uint64_t blob_count = 0;
  uint64_t logical_bytes = 0;
  uint64_t new_bytes = 0;
  uint64_t new_raw_bytes = 0;
  uint64_t shared_bytes = 0;
  std::string head;  // encoded manifest with entry_count 0

  bool operator==(const CheckpointSummary& o) const;
};

struct ShardRecord {
  int64_t recorded_at_ns = 0;
  uint64_t new_bytes = 0;
  uint64_t new_raw_bytes = 0;
  uint64_t shared_bytes = 0;
  std::string manifest;  // encoded; its entries are the shard's
};

struct PackRecord {
  uint64_t size = 0;
  uint64_t entry_count = 0;
};

// Prefixes of each key family, for scans over one family.
inline constexpr std::string_view kChunkKeys = "C";
inline constexpr std::string_view kCheckpointKeys = "M";
inline constexpr std::string_view kSummaryKeys = "I";
inline constexpr std::string_view kRunStepKeys = "R";
inline constexpr std::string_view kTagKeys = "T";
inline constexpr std::string_view kPackKeys = "P";
inline constexpr std::string_view kCondemnedKeys = "D";
inline constexpr std::string_view kGoneKeys = "G";
inline constexpr std::string_view kPolicyKeys = "Y";
inline constexpr std::string_view kShardKeys = "S";
// Key of the gc generation (index/pack_lifecycle.h). Value: fixed64.
inline constexpr std::string_view kGcGenerationKey = "g";
inline constexpr std::string_view kLogPositionKey = "l";
inline constexpr std::string_view kCacheStoreIdKey = "i";

std::string ChunkKey(const Digest& digest);
std::string CheckpointKey(const Digest& id);
std::string SummaryKey(const Digest& id);
std::string RunStepKey(std::string_view run, uint64_t step);
// Prefix of every RunStepKey of `run`.
std::string RunPrefix(std::string_view run);
std::string TagKey(std::string_view tag);
std::string PackKey(const std::string& pack_id);
std::string CondemnedKey(const std::string& pack_id);
std::string GoneKey(const std::string& pack_id);
std::string PolicyKey(std::string_view run);
// Prefix of the ShardKeys of run@step, and the key of one shard.
std::string ShardPrefix(std::string_view run, uint64_t step);
std::string ShardKey(std::string_view run, uint64_t step, uint32_t rank);
// Splits a ShardKey; false if malformed.
bool ParseShardKey(std::string_view key, std::string* run, uint64_t* step, uint32_t* rank);
// Pack id (hex) of a 'P', 'D' or 'G' key.
std::string PackIdOfKey(std::string_view key);
// Splits a RunStepKey; false if malformed.
bool ParseRunStepKey(std::string_view key, std::string* run, uint64_t* step);

std::string EncodeChunkLocation(const ChunkLocation& loc);
Status DecodeChunkLocation(std::string_view bytes, ChunkLocation* out);
std::string EncodeCheckpointRecord(const CheckpointRecord& rec);
Status DecodeCheckpointRecord(std::string_view bytes, CheckpointRecord* out);
std::string EncodeCheckpointSummary(const CheckpointSummary& summary);
Status DecodeCheckpointSummary(std::string_view bytes, CheckpointSummary* out);
std::string EncodeShardRecord(const ShardRecord& rec);
Status DecodeShardRecord(std::string_view bytes, ShardRecord* out);
std::string EncodePackRecord(const PackRecord& rec);
Status DecodePackRecord(std::string_view bytes, PackRecord* out);

}  // namespace ckpt::internal
