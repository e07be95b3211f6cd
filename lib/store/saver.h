// store/saver: one Save call. Cuts, hashes and encodes chunks on the pool,
// writes new ones into packs, then commits the manifest in one synced index
// batch, strictly after every pack it needs is durable (invariant 1).
#pragma once

#include "repo/store_context.h"

namespace ckpt::internal {

Result<CheckpointInfo> SaveCheckpoint(StoreContext& ctx, const SaveRequest& request,
                                      const SaveOptions& options);

}  // namespace ckpt::internal
