// gc/sweeper: the index half of the sweep. Condemns packs with nothing
// live (their 'P' key goes, a 'D' key comes; every chunk entry into them
// stops counting at once, and a compaction filter drops the entries
// later), deletes one by one only the dead chunk entries of packs that
// stay, and reports how full every remaining pack is, for repacking. The
// commits happen in writer sessions that first mark what was committed
// since the snapshot, so no committed checkpoint loses a chunk; saves that
// deduplicated against a chunk gone since notice the changed gc generation
// at their own commit and write the chunk again.
#pragma once

#include <map>
#include <string>

#include "gc/live_set.h"

namespace ckpt::internal {

struct PackUsage {
  uint64_t live_bytes = 0;  // stored bytes of entries still needed
  uint64_t file_bytes = 0;  // the pack file's size, from its 'P' record
};

struct SweepResult {
  // Entries that stop counting: every entry of a condemned pack (as its
  // 'P' record counts them, manifest copies included), and the dead chunk
  // entries of packs that stay.
  uint64_t chunks_removed = 0;
  // Bytes of those: condemned pack files whole, dead entries of the rest.
  uint64_t bytes_unreferenced = 0;
  std::map<std::string, PackUsage> packs;  // by pack id, packs still indexed
};

// Counts what `live` leaves dead in `snapshot` (a dry run).
Result<SweepResult> CountDead(StoreContext& ctx, Index& snapshot, const LiveSet& live);

// Plans on `snapshot` (the view `live` was marked on), then, in short
// writer sessions that each first mark the checkpoints committed since:
// deletes the dead delta entries of packs that stay, condemns the packs
// left with nothing live, and deletes the dead whole chunks of the rest.
Result<SweepResult> SweepIndex(StoreContext& ctx, Index& snapshot, LiveSet& live);

}  // namespace ckpt::internal
