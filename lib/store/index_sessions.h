// store/index_sessions: how operations reach the index. Nobody keeps the
// index open between operations: a reader opens a read-only view (a
// snapshot of what was committed when it opened), a writer opens a short
// read-write session under the store lock. See docs/design.md ("Locks").
#pragma once

#include <memory>
#include <mutex>

#include "index/index.h"
#include "index/store_lock.h"

namespace ckpt::internal {

struct StoreContext;
enum class WriterPriority { kNormal, kBackground };

// An exclusive, read-write session: in-process mutex, then the cross-process
// store lock, then the database. Released in reverse order.
class WriterSession {
 public:
  Index& index() { return *index_; }

 private:
  friend Result<WriterSession> OpenWriter(StoreContext& ctx, WriterPriority priority);
  std::unique_lock<std::mutex> in_process_;
  StoreLock lock_;
  std::unique_ptr<Index> index_;
};

// A read-only view of the index as committed now.
Result<std::unique_ptr<Index>> OpenReader(StoreContext& ctx);
// Waits (up to StoreOptions::lock_timeout_ms) for the writer lock.
// kBackground (gc) first pauses for a moment so that a save waiting for the
// lock gets it ahead of gc's next session. Errors: kBusy, kNotSupported.
Result<WriterSession> OpenWriter(StoreContext& ctx,
                                 WriterPriority priority = WriterPriority::kNormal);

}  // namespace ckpt::internal
