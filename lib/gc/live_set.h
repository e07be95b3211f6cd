// gc/live_set: the mark phase. Walks every committed checkpoint (streaming
// over the index, one manifest at a time), collects the chunks and
// manifest copies they need and, by looking each new live chunk up, the
// bases of delta chunks down their chains and how many live bytes every
// pack holds. Memory: 32 bytes per distinct live chunk, plus one counter
// per pack.
#pragma once

#include <map>
#include <set>
#include <vector>

#include "repo/store_context.h"

namespace ckpt::internal {

struct LiveSet {
  std::vector<Digest> chunks;  // sorted, unique
  std::set<Digest> checkpoints;
  // Pending shards of sharded checkpoints marked (key and record time): a
  // rank's shard is live from its record until its checkpoint commits or
  // gc removes it as abandoned.
  std::set<std::pair<std::string, int64_t>> shards;
  // Where each live checkpoint's manifest copy sits.
  std::map<Digest, ChunkLocation> manifests;
  // Stored bytes of live chunks and manifest copies, by pack (hex id).
  std::map<std::string, uint64_t> pack_live_bytes;
  // How many of those entries, by pack: a pack whose every entry is live
  // needs no sweeping.
  std::map<std::string, uint64_t> pack_live_entries;

  bool ContainsChunk(const Digest& d) const;
};

// Marks every committed checkpoint not yet in live->checkpoints, except
// those in `excluded` (the ones a dry run pretends are removed), and every
// pending shard not yet in live->shards. Calling it again later adds only
// the checkpoints and shards committed in between.
Status MarkLive(StoreContext& ctx, Index& index, LiveSet* live,
                const std::set<Digest>& excluded = {});

}  // namespace ckpt::internal
