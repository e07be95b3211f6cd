// gc/collector: one garbage collection, in steps that each leave the store
// consistent, so a gc killed at any point is completed by the next one:
//   1. plan: apply each run's retention policy (pure, see retention.h);
//   2. remove the checkpoints no rule keeps (one commit each);
//   3. mark the chunks and manifests every remaining checkpoint needs;
//   4. sweep the index under the commit lock (sweeper.h);
//   5. repack mostly-dead packs (repacker.h);
//   6. delete pack files unused for the grace period (pack_deleter.h);
//   7. compact the index when this gc left many entries dead.
#pragma once

#include "ckpt/gc.h"
#include "repo/store_context.h"

namespace ckpt::internal {

Result<GcReport> CollectGarbage(StoreContext& ctx, const GcOptions& options);

// The policy stored for `run` ("" = default), if any.
Result<std::optional<RetentionPolicy>> LoadPolicy(Index& index, const std::string& run);

}  // namespace ckpt::internal
