// repo/checkpoint_remover: unlinks one checkpoint from the index (Delete
// and garbage collection share it). Order: tombstone ref, index commit, tag
// refs; see docs/format.md ("Ordering invariants").
#pragma once

#include "repo/store_context.h"

namespace ckpt::internal {

// `index` is a writer session's.
Status RemoveCheckpoint(StoreContext& ctx, Index& index, const ResolvedCheckpoint& c);

// Names of the tags pointing at checkpoint `id`. An error reading the tags
// is returned, never an empty list: callers decide from it what to keep.
Result<std::vector<std::string>> TagsOfCheckpoint(Index& index, const Digest& id);

}  // namespace ckpt::internal
