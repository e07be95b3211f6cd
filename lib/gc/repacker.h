// gc/repacker: rewrites packs that are mostly dead. Copies each pack's live
// chunks and live manifest copies (verified against their hashes, never
// re-encoded) into new packs, then, under the commit lock, points the index
// at the copies and condemns the old pack. An entry that changed meanwhile
// (a save wrote the chunk again elsewhere) keeps its new location.
#pragma once

#include <map>
#include <string>

#include "gc/live_set.h"
#include "gc/sweeper.h"

namespace ckpt::internal {

struct RepackResult {
  uint64_t packs_repacked = 0;
  uint64_t bytes_copied = 0;
  uint64_t packs_damaged = 0;    // skipped: an entry failed its hash
  uint64_t entries_retired = 0;  // index entries into the packs rewritten
};

// Packs that would free less than this are not rewritten.
inline constexpr uint64_t kMinReclaimBytes = 64 * 1024;

// Repacks every pack in `packs` whose live fraction is below `threshold`.
Result<RepackResult> RepackSparsePacks(StoreContext& ctx, const LiveSet& live,
                                       const std::map<std::string, PackUsage>& packs,
                                       double threshold);

}  // namespace ckpt::internal
