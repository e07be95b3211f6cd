// store/staged_commit: what the rank that completes a staged sharded
// checkpoint (repo/staged_shards.h) commits besides the checkpoint itself.
#pragma once

#include <vector>

#include "index/index.h"
#include "repo/staged_shards.h"

namespace ckpt::internal {

// Adds to `batch` the 'C' keys of the staged shards' new chunks that are
// not indexed yet (of two ranks that stored one chunk, the lower rank's
// copy; a copy another save indexed meanwhile stays) and the 'P' keys of
// their packs. Checks, in `writer` (caught up, under the writer lease), that
// every chunk the shards name and every delta base is indexed or staged:
// a concurrent gc may have collected one after its rank found it stored.
// Each delta's depth follows its base as indexed now. Errors: kAborted
// naming the shard and chunk (the shard must be saved again; nothing is
// committed), the index's.
Status AddStagedEntries(Index& writer, int max_delta_depth, std::vector<StagedShard>* staged,
                        IndexBatch* batch);

}  // namespace ckpt::internal
