// gc/pack_deleter: the file half of the sweep. Deletes pack files that the
// index stopped using at least a grace period ago (condemned), and pack
// files no index entry ever named that are older than the grace period
// (left by saves that crashed or failed before their commit). The grace
// period protects loads and saves in flight that still read those files.
// The unlinks are not synced: a pack whose file a crash brings back has a
// 'G' key and goes at the next gc, and the tombstones it guards stay until
// that next gc has made its deletion durable.
#pragma once

#include "repo/store_context.h"

namespace ckpt::internal {

struct DeleteResult {
  uint64_t packs_deleted = 0;
  uint64_t orphans_deleted = 0;
  uint64_t bytes_deleted = 0;
  uint64_t packs_pending = 0;
  uint64_t abandoned_deleted = 0;  // partial files of interrupted writes
  uint64_t abandoned_bytes_deleted = 0;
};

Result<DeleteResult> DeleteUnusedPacks(StoreContext& ctx, int64_t grace_seconds, int64_t now_ns);

}  // namespace ckpt::internal
