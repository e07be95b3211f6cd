// ckpt/save_handle.h: the outcome of a save running in the background.
//
// Store::SaveAsync returns a SaveHandle as soon as it has copied the
// request's bytes; the save itself runs later on the Store's background
// thread. The handle tells whether that save has finished and, once it has,
// gives its CheckpointInfo or its error.
//
// Thread-safety: a small value type; copies share one outcome. Wait and
// Ready may be called from any number of threads, any number of times. A
// handle may outlive the Store that returned it: the Store's destructor
// finishes every queued save first, so the outcome is settled by then.
//
// Stability: stable.
#pragma once

#include <memory>

#include "ckpt/export.h"
#include "ckpt/manifest.h"
#include "ckpt/result.h"

namespace ckpt {

namespace internal {
struct SaveOutcome;
class AsyncSaver;
}  // namespace internal

class CKPT_EXPORT SaveHandle {
 public:
  // Blocks until the save has finished, then returns its info, or the error
  // that Store::Save would have returned for it. Every call returns the same.
  Result<CheckpointInfo> Wait() const;

  // True once the save has finished, so that Wait would not block.
  bool Ready() const;

 private:
  friend class internal::AsyncSaver;
  explicit SaveHandle(std::shared_ptr<internal::SaveOutcome> outcome);

  std::shared_ptr<internal::SaveOutcome> outcome_;
};

}  // namespace ckpt
