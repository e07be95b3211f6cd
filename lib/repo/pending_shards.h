// repo/pending_shards: the shards of sharded checkpoints that are not
// complete yet ('S' keys of the index). Nothing else sees them: they are
// neither checkpoints to readers nor garbage to gc within the grace period.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "manifest/entry_view.h"
#include "repo/store_context.h"

namespace ckpt::internal {

struct PendingShard {
  std::string key;
  ShardRecord record;
  ShardManifest shard;  // decoded record.manifest and the key's rank
};

// The shards of run@step recorded so far, by rank. Errors: kCorruption for
// a record that does not decode (never skipped: it would look absent).
Result<std::vector<PendingShard>> PendingShardsOf(Index& index, const std::string& run,
                                                  uint64_t step);

// Calls fn for every pending shard of the store, in key order; stops at
// the first error, fn's or a record's that does not decode.
Status ForEachPendingShard(Index& index, const std::function<Status(PendingShard&)>& fn);

}  // namespace ckpt::internal
