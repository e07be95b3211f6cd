// ckpt/retention.h: which checkpoints of a run to keep.
//
// A policy is a set of rules; a checkpoint is kept if any rule keeps it, and
// tagged checkpoints are always kept. Policies are stored in the store, per
// run and as a store-wide default, so a scheduled `ckpt gc` needs no flags.
//
// Thread-safety: plain values and pure functions. Stability: stable; rules
// may be added.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "ckpt/export.h"
#include "ckpt/manifest.h"
#include "ckpt/result.h"

namespace ckpt {

// Keep the `count` best checkpoints by metric `metric`.
struct KeepBest {
  uint32_t count = 0;
  std::string metric;
  bool minimize = true;  // true: lowest values are best (loss); false: highest (accuracy)
};

struct CKPT_EXPORT RetentionPolicy {
  uint32_t keep_last = 0;           // the N highest steps
  uint64_t keep_every_steps = 0;    // steps that are multiples of N
  int64_t keep_within_seconds = 0;  // saved within this long before now
  // The newest checkpoint in each of the last N hours that have any
  // checkpoint (hours without one do not count), as restic does.
  uint32_t keep_hourly = 0;
  uint32_t keep_daily = 0;          // ... days (UTC)
  uint32_t keep_weekly = 0;         // ... ISO weeks (UTC)
  uint32_t keep_monthly = 0;        // ... months (UTC)
  std::vector<KeepBest> keep_best;  // any number of metrics

  // True if no rule is set: such a policy would keep only tagged
  // checkpoints, so SetPolicy and Gc refuse it (kInvalidArgument).
  bool empty() const;
  // One line, in the CLI's flag syntax: "--keep-last 3 --keep-best 2:loss:min".
  std::string ToString() const;
};

// Parses the CLI's values: a duration "90s", "15m", "48h", "7d", "2w".
CKPT_EXPORT Result<int64_t> ParseDurationSeconds(const std::string& text);
// Parses "N:METRIC:min" or "N:METRIC:max".
CKPT_EXPORT Result<KeepBest> ParseKeepBest(const std::string& text);

// Why a checkpoint is kept; empty reasons mean it is to be removed.
struct RetentionDecision {
  CheckpointInfo checkpoint;
  std::vector<std::string> reasons;  // e.g. "last 3", "best 2 by loss (min)", "tag best"
  bool keep() const { return !reasons.empty(); }
};

// Applies `policy` to the checkpoints of one run at time `now_ns` (ns since
// the Unix epoch). Pure: the same input gives the same output. Decisions come
// back in the order of `checkpoints`.
CKPT_EXPORT std::vector<RetentionDecision> ApplyRetention(
    const RetentionPolicy& policy, const std::vector<CheckpointInfo>& checkpoints, int64_t now_ns);

}  // namespace ckpt
