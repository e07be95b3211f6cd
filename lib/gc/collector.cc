#include "gc/collector.h"

#include <algorithm>
#include <chrono>
#include <map>
#include <mutex>
#include <set>

#include "gc/live_set.h"
#include "gc/pack_deleter.h"
#include "gc/repacker.h"
#include "gc/sweeper.h"
#include "repo/bucket_lease.h"
#include "repo/checkpoint_remover.h"
#include "repo/checkpoint_summary.h"
#include "repo/index_log.h"
#include "repo/index_sessions.h"
#include "repo/pending_shards.h"
#include "repo/policy_codec.h"
#include "repo/ref_resolver.h"
#include "repo/staged_shards.h"
#include "util/clock.h"

namespace ckpt::internal {
namespace {

// Checkpoints of one run as CheckpointInfo, with their tags; those without
// a summary are added to `unsummarized`.
Result<std::vector<CheckpointInfo>> RunCheckpoints(
    Index& index, const std::string& run, const std::multimap<std::string, std::string>& tags,
    std::vector<Digest>* unsummarized) {
  std::vector<Digest> ids;
  CKPT_RETURN_IF_ERROR(index.Scan(RunPrefix(run), [&](auto, std::string_view v) {
    if (v.size() == Digest::kSize) ids.push_back(Digest::FromView(v));
    return true;
  }));
  return LoadInfos(index, ids, tags, unsummarized);
}

Result<std::vector<std::string>> RunNames(Index& index, const std::string& only) {
  if (!only.empty()) {
    CKPT_ASSIGN_OR_RETURN(auto latest, LatestOfRun(index, only));
    if (!latest) return Status::NotFound("gc: run '" + only + "' not found");
    return std::vector<std::string>{only};
  }
  std::set<std::string> runs;
  CKPT_RETURN_IF_ERROR(index.Scan(kRunStepKeys, [&](std::string_view k, auto) {
    std::string run;
    uint64_t step;
    if (ParseRunStepKey(k, &run, &step)) runs.insert(run);
    return true;
  }));
  return std::vector<std::string>(runs.begin(), runs.end());
}

// Step 1: decisions for every checkpoint considered; the checkpoints
// without a summary go to `unsummarized`.
Status Plan(Index& index, const GcOptions& options, int64_t now, GcReport* report,
            std::vector<Digest>* unsummarized) {
  CKPT_ASSIGN_OR_RETURN(auto tags, TagsById(index));
  CKPT_ASSIGN_OR_RETURN(auto fallback, LoadPolicy(index, ""));
  CKPT_ASSIGN_OR_RETURN(auto runs, RunNames(index, options.run));
  for (const auto& run : runs) {
    CKPT_ASSIGN_OR_RETURN(auto checkpoints, RunCheckpoints(index, run, tags, unsummarized));
    std::optional<RetentionPolicy> policy = options.policy;
    if (!policy) {
      CKPT_ASSIGN_OR_RETURN(policy, LoadPolicy(index, run));
    }
    if (!policy) policy = fallback;
    if (!policy) {
      report->runs_without_policy.push_back(run);
      for (auto& c : checkpoints) report->decisions.push_back({std::move(c), {"no policy"}});
      continue;
    }
    for (auto& d : ApplyRetention(*policy, checkpoints, now))
      report->decisions.push_back(std::move(d));
  }
  return Status::OK();
}

// A checkpoint gc removes.
struct Unkept {
  Digest id;
  std::string run;
  uint64_t step = 0;
};

// Removes one batch of checkpoints in one session. Tombstones are written
// (durably) before the session, so it stays short; one left for a
// checkpoint that turns out to stay is withdrawn.
Status RemoveBatch(StoreContext& ctx, const std::vector<Unkept>& batch_of, GcReport* report) {
  // In one call, which the backend may make durable at once.
  std::vector<Backend::NamedObject> tombstones;
  for (const Unkept& u : batch_of) {
    std::string hex = u.id.Hex();
    tombstones.push_back({DeletedRefName(hex), hex});
  }
  CKPT_RETURN_IF_ERROR(ctx.backend->PutMany(tombstones).WithContext("gc tombstones"));
  std::vector<Digest> kept;
  Status s;
  {
    CKPT_ASSIGN_OR_RETURN(
        auto session, OpenWriter(ctx, LockPriority::kBackground, /*background_compactions=*/true));
    Index& index = session.index();
    auto tags = TagsById(index);
    if (!tags.ok()) s = tags.status();
    IndexBatch batch;
    uint64_t removed = 0;
    for (size_t i = 0; s.ok() && i < batch_of.size(); ++i) {
      const Unkept& u = batch_of[i];
      // Its RUN@STEP key still naming it says it is there; the other keys
      // go with that one.
      auto named = index.Get(RunStepKey(u.run, u.step));
      if (!named.ok()) {
        s = named.status();
        break;
      }
      if (!*named || **named != u.id.View()) continue;  // gone already
      if (tags->count(u.id.Hex())) {                    // tagged since the plan: it stays
        kept.push_back(u.id);
        continue;
      }
      DeleteCheckpointKeys(&batch, u.id, u.run, u.step);
      removed++;
    }
    if (s.ok()) s = index.Commit(batch);
    if (s.ok()) {
      report->checkpoints_removed += removed;
      // Committed: the removals stand either way.
      s = session.Close(Index::Housekeeping::kFlushOnly);
    } else {
      kept.clear();  // nothing was removed
      for (const auto& u : batch_of) kept.push_back(u.id);
    }
  }
  // Withdraw the tombstones of checkpoints that stay. One that cannot be
  // withdrawn would make repair drop a kept checkpoint: that is an error.
  for (const auto& id : kept) {
    Status withdraw = ctx.backend->Remove(DeletedRefName(id.Hex()));
    if (!withdraw.ok() && s.ok())
      s = withdraw.WithContext("withdraw the tombstone of kept checkpoint " + id.ShortHex());
  }
  return s.WithContext("gc remove checkpoints");
}

// An index from before summaries gets them for the checkpoints this gc
// keeps (it read their manifests to plan anyway), so that listings need not
// read manifests again. In sessions of 1024, like the removals.
Status SummarizeKept(StoreContext& ctx, const std::vector<Digest>& ids) {
  constexpr size_t kBatch = 1024;
  for (size_t begin = 0; begin < ids.size(); begin += kBatch) {
    std::vector<Digest> batch(ids.begin() + begin,
                              ids.begin() + std::min(ids.size(), begin + kBatch));
    CKPT_ASSIGN_OR_RETURN(
        auto session, OpenWriter(ctx, LockPriority::kBackground, /*background_compactions=*/true));
    CKPT_RETURN_IF_ERROR(WriteMissingSummaries(session.index(), batch).status());
    CKPT_RETURN_IF_ERROR(session.Close(Index::Housekeeping::kFlushOnly));
  }
  return Status::OK();
}

// Step 2, in batches so that each writer session stays short: a session
// looks up one key per checkpoint, so a batch of 1024 holds the lock for
// milliseconds, and the session's open and close cost more than that.
Status RemoveUnkept(StoreContext& ctx, GcReport* report) {
  constexpr size_t kBatch = 1024;
  std::vector<Unkept> batch;
  for (const auto& d : report->decisions) {
    Digest id;
    if (d.keep() || !Digest::FromHex(d.checkpoint.id, &id)) continue;
    batch.push_back({id, d.checkpoint.run, d.checkpoint.step});
    if (batch.size() == kBatch) {
      CKPT_RETURN_IF_ERROR(RemoveBatch(ctx, batch, report));
      batch.clear();
    }
  }
  return batch.empty() ? Status::OK() : RemoveBatch(ctx, batch, report);
}

// Drops the index entries that this gc made dead in one compaction now, in
// gc's time, when there are at least `threshold`: otherwise the closing
// housekeeping of some later session, perhaps a save's, would rewrite them
// (docs/design.md, "The index"). Yields to waiters like that housekeeping.
// gc's other sessions leave compactions to this step: below the threshold
// it runs one session's bounded share instead. Returns whether it
// compacted everything.
Result<bool> CompactIfWorthIt(StoreContext& ctx, uint64_t dead_entries, uint64_t threshold) {
  const bool whole = dead_entries >= threshold;
  CKPT_ASSIGN_OR_RETURN(
      auto session, OpenWriter(ctx, LockPriority::kBackground, /*background_compactions=*/false));
  Status s = whole ? session.index().CompactYielding() : Status::OK();
  if (s.code() == Code::kBusy) return false;  // a later session compacts
  CKPT_RETURN_IF_ERROR(s.WithContext("gc compact index"));
  CKPT_RETURN_IF_ERROR(session.Close().WithContext("gc compact index"));
  return whole;
}

// Pending shards recorded more than `grace_ns` before `now`: their
// checkpoint is not going to complete (a rank died, or the job gave up).
Result<std::vector<std::string>> AbandonedShards(Index& index, int64_t grace_ns, int64_t now) {
  std::vector<std::string> keys;
  CKPT_RETURN_IF_ERROR(ForEachPendingShard(index, [&](PendingShard& p) {
    if (now - p.record.recorded_at_ns > grace_ns) keys.push_back(p.key);
    return Status::OK();
  }));
  return keys;
}

// Removes the abandoned shards; their chunks are then dead like any others.
// Checked again in the session: a rank may have saved its shard anew.
Status RemoveAbandonedShards(StoreContext& ctx, int64_t grace_ns, int64_t now, GcReport* report) {
  std::vector<std::string> keys;
  {
    CKPT_ASSIGN_OR_RETURN(auto index, OpenReader(ctx, LockPriority::kBackground));
    CKPT_ASSIGN_OR_RETURN(keys, AbandonedShards(*index, grace_ns, now));
  }
  if (keys.empty()) return Status::OK();
  CKPT_ASSIGN_OR_RETURN(auto session, OpenWriter(ctx, LockPriority::kBackground));
  CKPT_ASSIGN_OR_RETURN(auto still, AbandonedShards(session.index(), grace_ns, now));
  IndexBatch batch;
  for (const auto& key : still) batch.Delete(key);
  CKPT_RETURN_IF_ERROR(session.index().Commit(batch));
  report->abandoned_shards_removed += still.size();
  return session.Close(Index::Housekeeping::kFlushOnly);
}

// Staged shards (a store in object storage) that will never complete:
// those whose checkpoint is committed (their completing rank did not get
// to delete them) and those staged longer ago than the grace period.
struct StaleStaged {
  std::vector<std::string> committed, expired;
  std::vector<std::string> expired_keys;  // their 'S' keys, deleted: see RemoveStaleStaged
};

Result<StaleStaged> FindStaleStaged(StoreContext& ctx, Index& index, int64_t grace_ns,
                                    int64_t now) {
  StaleStaged stale;
  if (!ctx.shared_index) return stale;
  CKPT_ASSIGN_OR_RETURN(auto staged, ReadAllStagedShards(ctx));
  for (const StagedShard& s : staged) {
    const Manifest& m = s.shard.manifest;
    CKPT_ASSIGN_OR_RETURN(auto committed, index.Get(RunStepKey(m.run, m.step)));
    if (committed) {
      stale.committed.push_back(s.name);
    } else if (now - s.record.recorded_at_ns > grace_ns) {
      stale.expired.push_back(s.name);
      stale.expired_keys.push_back(ShardKey(m.run, m.step, s.shard.rank));
    }
  }
  return stale;
}

// Deletes the stale staged shards in a writer session that commits first:
// its log record makes a completing rank that read the log before it, and
// so may still count these shards, fail its commit instead of naming packs
// that this gc is about to delete as orphans.
Status RemoveStaleStaged(StoreContext& ctx, int64_t grace_ns, int64_t now, GcReport* report) {
  if (!ctx.shared_index) return Status::OK();
  {
    CKPT_ASSIGN_OR_RETURN(auto index, OpenReader(ctx, LockPriority::kBackground));
    CKPT_ASSIGN_OR_RETURN(auto stale, FindStaleStaged(ctx, *index, grace_ns, now));
    if (stale.committed.empty() && stale.expired.empty()) return Status::OK();
  }
  CKPT_ASSIGN_OR_RETURN(auto session, OpenWriter(ctx, LockPriority::kBackground));
  // Again in the session: a rank may have staged its shard anew.
  CKPT_ASSIGN_OR_RETURN(auto stale, FindStaleStaged(ctx, session.index(), grace_ns, now));
  if (!stale.expired.empty()) {
    IndexBatch batch;
    for (const auto& key : stale.expired_keys) batch.Delete(key);
    CKPT_RETURN_IF_ERROR(session.index().Commit(batch));
  }
  std::vector<std::string> names = stale.committed;
  names.insert(names.end(), stale.expired.begin(), stale.expired.end());
  CKPT_RETURN_IF_ERROR(ctx.backend->RemoveMany(names));
  report->abandoned_shards_removed += stale.expired.size();
  return session.Close(Index::Housekeeping::kFlushOnly);
}

// Records how long each step of one gc took, and reports each finished
// step to the caller's progress function (steps done of `steps`).
class StepTimer {
 public:
  StepTimer(GcReport* report, const ProgressFn& progress, uint64_t steps)
      : report_(report), progress_(progress), steps_(steps), start_(Clock::now()) {
    if (progress_) progress_(0, steps_);
  }
  void Done(const char* step) {
    auto now = Clock::now();
    report_->step_seconds.emplace_back(step, std::chrono::duration<double>(now - start_).count());
    start_ = now;
    if (progress_) progress_(report_->step_seconds.size(), steps_);
  }

 private:
  using Clock = std::chrono::steady_clock;
  GcReport* report_;
  const ProgressFn& progress_;
  uint64_t steps_;
  Clock::time_point start_;
};

// A store in object storage: a snapshot of the index once the log has
// grown by `every` records since the newest. A view suffices: it is the
// index as of one record, and gc's lease keeps a second gc from writing
// snapshots meanwhile.
Status SnapshotLogIfDue(StoreContext& ctx, uint64_t every, GcReport* report) {
  if (!ctx.shared_index || every == 0) return Status::OK();
  CKPT_ASSIGN_OR_RETURN(std::vector<uint64_t> snapshots, LogSnapshots(ctx));
  const uint64_t newest = snapshots.empty() ? 0 : snapshots.back();
  CKPT_ASSIGN_OR_RETURN(auto index, OpenReader(ctx, LockPriority::kBackground));
  CKPT_ASSIGN_OR_RETURN(uint64_t position, LogPosition(*index));
  if (position < newest + every) return Status::OK();
  CKPT_RETURN_IF_ERROR(WriteLogSnapshot(ctx, *index));
  report->log_snapshot = position;
  return Status::OK();
}

}  // namespace

Result<std::optional<RetentionPolicy>> LoadPolicy(Index& index, const std::string& run) {
  CKPT_ASSIGN_OR_RETURN(auto value, index.Get(PolicyKey(run)));
  if (!value) return std::optional<RetentionPolicy>();
  RetentionPolicy policy;
  CKPT_RETURN_IF_ERROR(DecodePolicy(*value, &policy).WithContext("policy of '" + run + "'"));
  return std::optional<RetentionPolicy>(std::move(policy));
}

// A gc's lease on the bucket is renewed while it runs; one whose host died
// blocks others for at most this long.
constexpr std::chrono::milliseconds kGcLeaseTtl{60000};

Result<GcReport> CollectGarbage(StoreContext& ctx, const GcOptions& options) {
  if (ctx.options.read_only && !options.dry_run)
    return Status::NotSupported("gc: store opened read-only (a dry run works)");
  if (!options.run.empty() && !IsValidName(options.run))
    return Status::InvalidArgument("gc: invalid run name '" + options.run + "'");
  if (options.policy && options.policy->empty())
    return Status::InvalidArgument("gc: the policy given keeps nothing but tagged checkpoints");
  std::lock_guard<std::mutex> one_gc(ctx.gc_mu);
  // One gc per store across processes too; a second one waits for the first.
  CKPT_ASSIGN_OR_RETURN(auto gc_lock,
                        StoreLock::Acquire(ctx.path, true, ctx.lock_timeout(), "gc.lock"));
  // And one per bucket across hosts, for a store in object storage.
  std::unique_ptr<BucketLease> gc_lease;
  if (ctx.shared_index && !options.dry_run) {
    CKPT_ASSIGN_OR_RETURN(gc_lease, BucketLease::Acquire(ctx.backend, kGcLeaseName, kGcLeaseTtl,
                                                         ctx.lock_timeout(), /*keep_alive=*/true));
  }
  const int64_t now = NowNs();
  GcReport report;
  report.dry_run = options.dry_run;
  // plan, count; or plan, remove, mark, sweep, repack, delete, compact, unlink
  StepTimer timer(&report, options.progress, options.dry_run ? 2 : 8);
  // Packs condemned by an earlier gc a grace period ago go first: their
  // files are unlinked on threads of their own while this gc does its index
  // work, and a gc on a schedule costs little more than those unlinks.
  PackUnlinker unlinker(ctx);
  DeleteResult early;
  std::vector<Digest> unsummarized;
  if (!options.dry_run) {
    CKPT_RETURN_IF_ERROR(
        DeleteDuePacks(ctx, options.grace_seconds, now, /*confirm_earlier=*/true, &unlinker, &early)
            .WithContext("gc delete packs"));
  }
  {
    CKPT_ASSIGN_OR_RETURN(auto index, OpenReader(ctx, LockPriority::kBackground));
    CKPT_RETURN_IF_ERROR(Plan(*index, options, now, &report, &unsummarized));
  }
  timer.Done("plan");

  LiveSet live;
  if (options.dry_run) {
    CKPT_ASSIGN_OR_RETURN(auto index, OpenReader(ctx, LockPriority::kBackground));
    std::set<Digest> removed;
    for (const auto& d : report.decisions) {
      Digest id;
      if (!d.keep() && Digest::FromHex(d.checkpoint.id, &id)) removed.insert(id);
    }
    CKPT_ASSIGN_OR_RETURN(auto abandoned,
                          AbandonedShards(*index, options.grace_seconds * kNsPerSecond, now));
    CKPT_ASSIGN_OR_RETURN(auto stale,
                          FindStaleStaged(ctx, *index, options.grace_seconds * kNsPerSecond, now));
    report.abandoned_shards_removed = abandoned.size() + stale.expired.size();
    CKPT_RETURN_IF_ERROR(MarkLive(ctx, *index, &live, removed));
    CKPT_ASSIGN_OR_RETURN(auto sweep, CountDead(ctx, *index, live));
    report.checkpoints_removed = removed.size();
    report.chunks_removed = sweep.chunks_removed;
    report.bytes_unreferenced = sweep.bytes_unreferenced;
    timer.Done("count");
    return report;
  }
  CKPT_RETURN_IF_ERROR(RemoveUnkept(ctx, &report));
  CKPT_RETURN_IF_ERROR(SummarizeKept(ctx, unsummarized).WithContext("gc write summaries"));
  CKPT_RETURN_IF_ERROR(
      RemoveAbandonedShards(ctx, options.grace_seconds * kNsPerSecond, now, &report)
          .WithContext("gc remove abandoned shards"));
  CKPT_RETURN_IF_ERROR(RemoveStaleStaged(ctx, options.grace_seconds * kNsPerSecond, now, &report)
                           .WithContext("gc remove stale staged shards"));
  timer.Done("remove");
  SweepResult sweep;
  {
    // The long mark and scan run on a snapshot, outside any lock; the
    // sweep's session then only marks what was committed in between.
    CKPT_ASSIGN_OR_RETURN(auto index, OpenReader(ctx, LockPriority::kBackground));
    CKPT_RETURN_IF_ERROR(MarkLive(ctx, *index, &live));
    timer.Done("mark");
    CKPT_ASSIGN_OR_RETURN(sweep, SweepIndex(ctx, *index, live));
  }
  timer.Done("sweep");
  report.chunks_removed = sweep.chunks_removed;
  report.bytes_unreferenced = sweep.bytes_unreferenced;
  CKPT_ASSIGN_OR_RETURN(auto repack,
                        RepackSparsePacks(ctx, live, sweep.packs, options.repack_threshold));
  report.packs_repacked = repack.packs_repacked;
  report.bytes_repacked = repack.bytes_copied;
  report.packs_damaged = repack.packs_damaged;
  timer.Done("repack");
  // Now the packs this gc condemned, if the grace period allows; their
  // unlinks overlap the compaction.
  DeleteResult deleted;
  const int64_t later = NowNs();
  CKPT_RETURN_IF_ERROR(DeleteDuePacks(ctx, options.grace_seconds, later,
                                      /*confirm_earlier=*/false, &unlinker, &deleted)
                           .WithContext("gc delete packs"));
  CKPT_RETURN_IF_ERROR(DeleteLeftovers(ctx, options.grace_seconds, later, unlinker, &deleted));
  report.packs_deleted = early.packs_deleted + deleted.packs_deleted;
  report.orphan_packs_deleted = deleted.orphans_deleted;
  report.bytes_deleted = early.bytes_deleted + deleted.bytes_deleted;
  report.packs_pending = deleted.packs_pending;
  report.abandoned_writes_deleted = deleted.abandoned_deleted;
  report.abandoned_bytes_deleted = deleted.abandoned_bytes_deleted;
  timer.Done("delete");
  CKPT_ASSIGN_OR_RETURN(report.index_compacted,
                        CompactIfWorthIt(ctx, sweep.chunks_removed + repack.entries_retired,
                                         options.compact_after_entries));
  CKPT_RETURN_IF_ERROR(SnapshotLogIfDue(ctx, options.log_snapshot_records, &report)
                           .WithContext("gc snapshot the index"));
  timer.Done("compact");
  CKPT_RETURN_IF_ERROR(unlinker.Wait());
  timer.Done("unlink");
  return report;
}

}  // namespace ckpt::internal
