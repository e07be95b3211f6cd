// ckpt/gc.h: options and report of garbage collection.
//
// Garbage collection applies each run's retention policy (retention.h),
// removes the checkpoints no rule keeps, and reclaims the space no kept
// checkpoint needs: packs with no live chunk are deleted, packs mostly dead
// are rewritten, and packs left behind by crashed saves are deleted once
// older than a grace period. See Store::Gc and docs/design.md ("Garbage
// collection") for the protocol that keeps concurrent saves safe.
//
// Thread-safety: plain values. Stability: stable; fields may be added.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "ckpt/options.h"
#include "ckpt/retention.h"

namespace ckpt {

struct GcOptions {
  // Only this run's checkpoints are considered for removal ("" = every run).
  // Space is reclaimed store-wide either way.
  std::string run;
  // Plan and report only; change nothing.
  bool dry_run = false;
  // Replaces the stored policies (of every run considered) for this call.
  std::optional<RetentionPolicy> policy;
  // Packs whose live fraction (by stored bytes) is below this are rewritten
  // with only their live entries (unless that frees under 64 KiB).
  // 0 disables repacking. Default 0.5.
  double repack_threshold = 0.5;
  // Pack files are deleted only once they have been unreferenced for this
  // long (condemned packs) or are this old (packs of saves that never
  // committed), so that readers and saves in flight never lose a file under
  // them. Default one hour; must exceed the longest save or load.
  int64_t grace_seconds = 3600;
  // When this gc leaves at least this many index entries dead (removed
  // chunks, entries of repacked packs), it compacts the index to drop
  // them, rather than leaving that to the housekeeping of a later session,
  // perhaps a save's. The compaction stops early if a save or load waits
  // for the index. 0: compact after every gc; UINT64_MAX: never.
  uint64_t compact_after_entries = 50000;
  // A store in object storage: once its index log holds at least this many
  // records past the newest snapshot of the index, gc writes a new one, so
  // that a host without a cache replays only the records after it
  // (docs/format.md §14.5). 0: never.
  uint64_t log_snapshot_records = 1000;
  // Progress in steps of the gc finished, of 8 (a dry run: of 2), called
  // once at the start and after each step (see GcReport::step_seconds).
  // May be null.
  ProgressFn progress;
};

// In a dry run, checkpoints_removed, chunks_removed and bytes_unreferenced
// say what a real run would do; the pack counters stay 0.
struct GcReport {
  // Every checkpoint considered, with the rules that keep it (a run with no
  // policy gets the reason "no policy"); no reason = removed.
  std::vector<RetentionDecision> decisions;
  // Runs skipped because neither they nor the store have a policy.
  std::vector<std::string> runs_without_policy;
  uint64_t checkpoints_removed = 0;
  // Index entries that stop counting: every entry of a pack left with
  // nothing live (as the pack's record counts them, manifest copies
  // included), and the dead chunk entries of packs that stay.
  uint64_t chunks_removed = 0;
  // Bytes of those: whole pack files, and the dead entries of packs that
  // stay (dry run: would be).
  uint64_t bytes_unreferenced = 0;
  uint64_t packs_repacked = 0;
  uint64_t bytes_repacked = 0;        // live bytes copied into new packs
  uint64_t packs_damaged = 0;         // due for repacking but failing their hashes: left alone
  uint64_t packs_deleted = 0;         // pack files deleted (condemned or orphaned)
  uint64_t orphan_packs_deleted = 0;  // of those, packs of saves that never committed
  uint64_t bytes_deleted = 0;         // pack file bytes deleted
  // Partial files of writes a crash interrupted (past the grace period).
  uint64_t abandoned_writes_deleted = 0;
  uint64_t abandoned_bytes_deleted = 0;
  uint64_t packs_pending = 0;  // condemned packs still within the grace period
  // Shards of sharded checkpoints that never completed, recorded longer
  // than the grace period ago (dry run: would be); their chunks go with them.
  uint64_t abandoned_shards_removed = 0;
  // Whether gc compacted the index to drop the entries it made dead (it
  // does when they are many, and no save is waiting for the store lock).
  bool index_compacted = false;
  // The log record of which this gc wrote a snapshot of the index (0: none).
  uint64_t log_snapshot = 0;
  bool dry_run = false;
  // Wall time of each step in seconds, in order: "plan", "remove", "mark",
  // "sweep", "repack", "delete", "compact", "unlink" (a dry run: "plan",
  // "count"). Pack files are unlinked in the background from the start
  // (packs condemned by an earlier gc) and from "delete" on (packs this gc
  // condemned, if the grace period allows): "unlink" is the wait for those
  // still in flight at the end. For tuning schedules; the steps are
  // described in docs/design.md.
  std::vector<std::pair<std::string, double>> step_seconds;
};

}  // namespace ckpt
