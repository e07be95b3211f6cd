// repo/staged_shards: the shards of a sharded checkpoint in object storage
// before the checkpoint is complete. Each rank stores its shard as an object
// of its own, shards/RUN/STEP/WORLD/RANK, instead of committing it to the
// index log: then no rank replays the others' shards, and a checkpoint of N
// ranks costs one log record, appended by the rank that finds all N objects.
// A staged shard holds the index entries its rank would have committed: its
// 'S' key (ShardRecord) and the 'C' and 'P' keys of its new chunks and packs,
// encoded as index-log record 0. See docs/design.md ("Object storage") and
// docs/format.md ("Staged shards").
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "index/index.h"
#include "index/index_keys.h"
#include "manifest/entry_view.h"
#include "repo/store_context.h"

namespace ckpt::internal {

inline constexpr const char* kStagedShardPrefix = "shards/";

struct StagedShard {
  std::string name;  // the object's
  uint32_t world_size = 0;
  ShardRecord record;
  ShardManifest shard;  // decoded record.manifest and the rank
  // The 'C' keys of the shard's new chunks and their locations.
  std::vector<std::pair<Digest, ChunkLocation>> chunks;
  // The 'P' keys of its packs.
  std::vector<std::pair<std::string, PackRecord>> packs;

  // "run@step shard R (staged)", for messages.
  std::string Label() const;
};

// "shards/run/12/4/" and "shards/run/12/4/3".
std::string StagedShardPrefixOf(const std::string& run, uint64_t step, uint32_t world_size);
std::string StagedShardName(const std::string& run, uint64_t step, uint32_t world_size,
                            uint32_t rank);

// The object of one shard: `chunks_and_packs` holds only 'C' and 'P' puts.
Result<std::string> EncodeStagedShard(const std::string& run, uint64_t step, uint32_t rank,
                                      const ShardRecord& record,
                                      const IndexBatch& chunks_and_packs);
// Errors: kCorruption naming the object (checksum, format, or contents that
// do not match its name).
Result<StagedShard> DecodeStagedShard(const std::string& name, const std::string& bytes);

// The ranks staged for run@step by a job of `world_size` (one LIST).
Result<std::vector<uint32_t>> StagedRanks(StoreContext& ctx, const std::string& run, uint64_t step,
                                          uint32_t world_size);

// Reads and decodes the shards of ranks 0..world_size-1, in parallel.
// Errors: kNotFound (a rank's object went), kCorruption, the backend's.
Result<std::vector<StagedShard>> ReadStagedShards(StoreContext& ctx, const std::string& run,
                                                  uint64_t step, uint32_t world_size);

// Every staged shard of the store: one LIST, then a GET each, in parallel.
// A shard that does not decode is an error, never skipped: what it names
// would look unused. Objects that are not shards under the prefix are too.
Result<std::vector<StagedShard>> ReadAllStagedShards(StoreContext& ctx);

}  // namespace ckpt::internal
