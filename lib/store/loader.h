// store/loader: reads entries of a checkpoint back: index lookup, pack
// read, decode, SHA-256 check, copy into the caller's buffer (invariant 3).
#pragma once

#include "store/store_context.h"

namespace ckpt::internal {

// Reads chunk `digest` (raw length `raw_length`) into `dst`, verifying its
// hash; a delta chunk decodes its bases first. Errors carry the pack and
// chunk (and the damaged base of a delta); callers add checkpoint and
// tensor.
Status ReadChunk(StoreContext& ctx, Index& index, const Digest& digest, uint64_t raw_length,
                 uint8_t* dst);

// Reads bytes [offset, offset+length) of `entry` of checkpoint `c` into dst.
Status ReadEntryRange(StoreContext& ctx, Index& index, const ResolvedCheckpoint& c,
                      const ManifestEntry& entry,
                      uint64_t offset, uint64_t length, uint8_t* dst, const ProgressFn& progress,
                      uint64_t progress_base, uint64_t progress_total);

}  // namespace ckpt::internal
