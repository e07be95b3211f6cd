#include "repo/index_sessions.h"

#include <chrono>

#include "repo/store_context.h"

namespace ckpt::internal {

Result<std::unique_ptr<Index>> OpenReader(StoreContext& ctx, LockPriority priority) {
  // Shared lock while opening only: the open must not read a log a writer
  // is appending to; once open, the view needs no lock.
  CKPT_ASSIGN_OR_RETURN(
      auto lock, StoreLock::Acquire(ctx.path, false, ctx.lock_timeout(), kIndexLockName, priority));
  return Index::Open(ctx.index_dir(), false, true);
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
  return session;
}

}  // namespace ckpt::internal
