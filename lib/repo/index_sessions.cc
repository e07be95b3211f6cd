#include "repo/index_sessions.h"

#include <chrono>

#include "repo/index_log.h"
#include "repo/store_context.h"

namespace ckpt::internal {

namespace {

// How long a writer session's lease on a shared index lasts. Sessions are
// short (a save's commit, a gc step); one that outlives its lease still
// cannot commit over another host's (the index log refuses it).
constexpr std::chrono::milliseconds kIndexLeaseTtl{120000};

// Brings this host's copy of a shared index up to the bucket's log, under
// the local writer lock.
Status CatchUp(StoreContext& ctx, LockPriority priority) {
  CKPT_ASSIGN_OR_RETURN(
      auto lock, StoreLock::Acquire(ctx.path, true, ctx.lock_timeout(), kIndexLockName, priority));
  CKPT_ASSIGN_OR_RETURN(auto index, Index::Open(ctx.index_dir(), false, false, false));
  return CatchUpFromLog(ctx, *index).WithContext("catch up with " + ctx.location);
}

}  // namespace

Result<std::unique_ptr<Index>> OpenReader(StoreContext& ctx, LockPriority priority) {
  auto open_view = [&]() -> Result<std::unique_ptr<Index>> {
    // Shared lock while opening only: the open must not read a log a
    // writer is appending to; once open, the view needs no lock.
    CKPT_ASSIGN_OR_RETURN(auto lock, StoreLock::Acquire(ctx.path, false, ctx.lock_timeout(),
                                                        kIndexLockName, priority));
    return Index::Open(ctx.index_dir(), false, true);
  };
  CKPT_ASSIGN_OR_RETURN(auto view, open_view());
  if (!ctx.shared_index) return view;
  // One LIST tells whether the bucket's log has records this copy lacks;
  // only then is the copy opened for writing and brought up to date.
  CKPT_ASSIGN_OR_RETURN(bool behind, LogHasNews(ctx, *view));
  if (!behind) return view;
  view.reset();
  CKPT_RETURN_IF_ERROR(CatchUp(ctx, priority));
  return open_view();
}

Result<WriterSession> OpenWriter(StoreContext& ctx, LockPriority priority,
                                 bool background_compactions) {
  if (ctx.options.read_only) return Status::NotSupported("store opened read-only");
  WriterSession session;
  const auto start = std::chrono::steady_clock::now();
  session.in_process_ = std::unique_lock<std::mutex>(ctx.commit_mu);
  CKPT_ASSIGN_OR_RETURN(session.lock_, StoreLock::Acquire(ctx.path, true, ctx.lock_timeout(),
                                                          kIndexLockName, priority));
  uint64_t waited = static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::microseconds>(
                                              std::chrono::steady_clock::now() - start)
                                              .count());
  ctx.writer_sessions++;
  ctx.lock_wait_total_us += waited;
  for (uint64_t max = ctx.lock_wait_max_us.load();
       waited > max && !ctx.lock_wait_max_us.compare_exchange_weak(max, waited);) {
  }
  CKPT_ASSIGN_OR_RETURN(session.index_,
                        Index::Open(ctx.index_dir(), false, false, background_compactions));
  session.index_->SetYield([path = ctx.path] { return StoreLock::ForegroundWaiting(path); });
  if (ctx.shared_index) {
    CKPT_ASSIGN_OR_RETURN(session.lease_, BucketLease::Acquire(ctx.backend, kIndexLeaseName,
                                                               kIndexLeaseTtl, ctx.lock_timeout()));
    CKPT_RETURN_IF_ERROR(
        CatchUpFromLog(ctx, *session.index_).WithContext("catch up with " + ctx.location));
    Index* index = session.index_.get();
    index->SetCommitHook(
        [&ctx, index](IndexBatch& batch) { return AppendToLog(ctx, *index, batch); });
  }
  return session;
}

}  // namespace ckpt::internal
