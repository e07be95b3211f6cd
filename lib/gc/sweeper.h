// gc/sweeper: the index half of the sweep. Deletes the index entries of
// chunks no live checkpoint needs and condemns packs left with nothing
// live ('D' keys); reports how full every remaining pack is, for repacking.
// The deletes happen in a writer session that first marks what was
// committed since the snapshot, so no committed checkpoint loses a chunk;
// saves that deduplicated against a deleted entry notice the changed gc
// generation at their own commit and write the chunk again.
#pragma once

#include <map>
#include <string>

#include "gc/live_set.h"

namespace ckpt::internal {

struct PackUsage {
  uint64_t live_bytes = 0;  // stored bytes of entries still needed
  uint64_t dead_bytes = 0;  // stored bytes of chunk entries this sweep removes
  uint64_t file_bytes = 0;  // the pack file's size, from its 'P' record
};

struct SweepResult {
  uint64_t chunks_removed = 0;
  uint64_t bytes_unreferenced = 0;
  std::map<std::string, PackUsage> packs;  // by pack id, packs still indexed
};

// Counts what `live` leaves dead in `snapshot` (a dry run).
Result<SweepResult> CountDead(Index& snapshot, const LiveSet& live);

// Finds the dead entries on `snapshot` (the view `live` was marked on),
// then, in one short writer session, marks the checkpoints committed since,
// deletes the entries still dead, and condemns packs left with nothing live.
Result<SweepResult> SweepIndex(StoreContext& ctx, Index& snapshot, LiveSet& live);

// Index key of the gc generation, bumped by every commit that deletes or
// moves chunk entries. Value: fixed64.
inline constexpr std::string_view kGcGenerationKey = "g";
Result<uint64_t> ReadGcGeneration(Index& index);
// Wall-clock time in ns since the Unix epoch.
int64_t NowNs();
void BumpGcGeneration(uint64_t current, IndexBatch* batch);

}  // namespace ckpt::internal
