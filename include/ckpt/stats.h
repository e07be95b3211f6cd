// ckpt/stats.h: sizes and counts of a whole store, and reports of verify/repair.
//
// Thread-safety: plain values. Stability: stable; fields may be added.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "ckpt/export.h"
#include "ckpt/status.h"

namespace ckpt {

struct CKPT_EXPORT StoreStats {
  uint64_t runs = 0;
  uint64_t checkpoints = 0;
  uint64_t tags = 0;
  uint64_t chunks = 0;  // distinct chunks in the index
  uint64_t packs = 0;
  uint64_t logical_bytes = 0;       // sum of all checkpoints' sizes
  uint64_t unique_raw_bytes = 0;    // uncompressed bytes of distinct chunks
  uint64_t stored_chunk_bytes = 0;  // encoded bytes of distinct chunks
  uint64_t pack_bytes = 0;          // bytes of all pack files, with headers
  uint64_t delta_chunks = 0;        // chunks stored as deltas against a base
  uint64_t delta_raw_bytes = 0;     // their uncompressed bytes
  uint64_t delta_stored_bytes = 0;  // their encoded bytes
  uint32_t max_delta_depth = 0;     // longest chain of bases under any chunk
  // logical_bytes / unique_raw_bytes.
  double DedupRatio() const;
  // unique_raw_bytes / stored_chunk_bytes.
  double CompressionRatio() const;
};

// Counters of one open Store since it was opened (not persisted).
struct StoreCounters {
  uint64_t saves = 0;
  uint64_t writer_sessions = 0;            // short read-write index sessions taken
  uint64_t lock_wait_total_us = 0;         // time spent waiting for another's session
  uint64_t lock_wait_max_us = 0;           // the longest single wait
  uint64_t chunks_rewritten_after_gc = 0;  // chunks a concurrent gc reclaimed mid-save
  uint64_t auto_gc_runs = 0;               // background collections finished
  uint64_t auto_gc_failures = 0;           // ... that returned an error
  std::string last_auto_gc_error;          // the last such error, "" if none
};

// One problem found by Verify, with what it touches.
struct VerifyProblem {
  Status status;                         // the error, with its context
  std::vector<std::string> checkpoints;  // "run@step" of each affected checkpoint
  std::vector<std::string> tensors;      // "run@step:tensor" of each affected entry
};

struct VerifyReport {
  uint64_t checkpoints_checked = 0;
  // Shards of sharded checkpoints not complete yet, whose chunks were checked too.
  uint64_t pending_shards_checked = 0;
  uint64_t chunks_checked = 0;
  uint64_t bytes_read = 0;
  std::vector<VerifyProblem> problems;
  bool ok() const { return problems.empty(); }
};

struct RepairReport {
  uint64_t packs_scanned = 0;
  uint64_t packs_unreadable = 0;      // torn or damaged packs, skipped
  uint64_t manifests_unreadable = 0;  // manifests in readable packs that fail their hash
  uint64_t chunks_indexed = 0;
  // Delta chunks whose base is in no readable pack; checkpoints that need
  // them are not restored.
  uint64_t chunks_unrecoverable = 0;
  uint64_t checkpoints_restored = 0;
  uint64_t tags_restored = 0;
};

}  // namespace ckpt
