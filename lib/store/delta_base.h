// store/delta_base: where a changed chunk finds the base of its delta. The
// candidate is the chunk at the same tensor and offset in the parent
// checkpoint; when that chunk already sits at the chain bound, its own base
// (and so on down) is taken instead, so no chain grows past the bound.
#pragma once

#include <cstdint>

#include "repo/store_context.h"

namespace ckpt::internal {

struct DeltaBase {
  Digest digest;
  uint8_t depth = 0;               // of the base itself: 0 if stored whole
  const uint8_t* bytes = nullptr;  // its raw bytes, valid until the next call on this thread
};

// Picks and reads (hash-checked) the base for a new chunk of `length` bytes
// whose parent-checkpoint counterpart is `parent_chunk`. Returns false when
// there is none worth using (deltas off, lengths differ, the base is
// unreadable): the chunk is then stored whole.
bool FindDeltaBase(StoreContext& ctx, Index& view, const Digest& parent_chunk, uint64_t length,
                   DeltaBase* out);

}  // namespace ckpt::internal
