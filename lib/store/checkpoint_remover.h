// store/checkpoint_remover: unlinks one checkpoint from the index (Delete
// and garbage collection share it). Order: tombstone ref, index commit, tag
// refs; see docs/format.md ("Ordering invariants").
#pragma once

#include "store/store_context.h"

namespace ckpt::internal {

// `index` is a writer session's.
Status RemoveCheckpoint(StoreContext& ctx, Index& index, const ResolvedCheckpoint& c);

// Names of the tags pointing at checkpoint `id`.
std::vector<std::string> TagsOfCheckpoint(Index& index, const Digest& id);

}  // namespace ckpt::internal
