// repo/index_sessions: how operations reach the index. Nobody keeps the
// index open between operations: a reader opens a read-only view (a
// snapshot of what was committed when it opened), a writer opens a short
// read-write session under the store lock. See docs/design.md ("Locks").
#pragma once

#include <memory>
#include <mutex>

#include "index/index.h"
#include "index/store_lock.h"
#include "repo/bucket_lease.h"

namespace ckpt::internal {

struct StoreContext;

// An exclusive, read-write session: in-process mutex, then the cross-process
// store lock, then the database. Released in reverse order.
class WriterSession {
 public:
  Index& index() { return *index_; }
  // Closes the index with its housekeeping (Index::Close) and returns the
  // error, if any; commits made in the session are durable either way.
  // Without it, the destructor only releases the database and the locks.
  Status Close(Index::Housekeeping housekeeping = Index::Housekeeping::kFull) {
    return index_->Close(housekeeping);
  }

 private:
  friend Result<WriterSession> OpenWriter(StoreContext& ctx, LockPriority priority,
                                          bool background_compactions);
  std::unique_lock<std::mutex> in_process_;
  StoreLock lock_;
  std::unique_ptr<BucketLease> lease_;  // a store in object storage only
  std::unique_ptr<Index> index_;
};

// A read-only view of the index as committed now. kBackground (gc) lets any
// foreground caller waiting for the store lock go first.
Result<std::unique_ptr<Index>> OpenReader(StoreContext& ctx,
                                          LockPriority priority = LockPriority::kForeground);
// Waits (up to StoreOptions::lock_timeout_ms) for the writer lock.
// kBackground (gc) lets any foreground caller waiting for the store lock go
// first, so that a save waits for at most one gc session. Errors: kBusy,
// kNotSupported. `background_compactions` lets RocksDB compact while the
// session runs: for gc's long sessions that delete many entries. A short
// session (a save's commit, a tag) starts none: RocksDB abandons a
// compaction still running at close, so one started there would only take
// a core from the caller (on an index of 800k entries, ~0.2 s of CPU per
// session for nothing); Index's closing housekeeping compacts instead.
Result<WriterSession> OpenWriter(StoreContext& ctx,
                                 LockPriority priority = LockPriority::kForeground,
                                 bool background_compactions = false);

}  // namespace ckpt::internal
