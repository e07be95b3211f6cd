// gc/live_set: the mark phase. Walks every committed checkpoint (streaming
// over the index, one manifest at a time) and collects the chunks and
// manifest copies they need, and the bases of live delta chunks down their
// chains. Memory: 32 bytes per distinct live chunk.
#pragma once

#include <map>
#include <set>
#include <vector>

#include "store/store_context.h"

namespace ckpt::internal {

struct LiveSet {
  std::vector<Digest> chunks;  // sorted, unique after Compact()
  std::set<Digest> checkpoints;
  // Where each live checkpoint's manifest copy sits.
  std::map<Digest, ChunkLocation> manifests;

  bool ContainsChunk(const Digest& d) const;
  void Compact();
};

// Marks every committed checkpoint not yet in live->checkpoints, except
// those in `excluded` (the ones a dry run pretends are removed). Calling it
// again later adds only the checkpoints committed in between.
Status MarkLive(Index& index, LiveSet* live, const std::set<Digest>& excluded = {});

}  // namespace ckpt::internal
