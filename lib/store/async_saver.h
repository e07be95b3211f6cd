// store/async_saver: Store::SaveAsync. A bounded staging area holds copies
// of the callers' tensors and blobs, and one background thread runs the
// staged saves one at a time, in submission order, through the same save as
// Store::Save. Owns the SaveHandle outcomes it settles.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>

#include "ckpt/checkpoint.h"
#include "ckpt/options.h"
#include "ckpt/save_handle.h"
#include "util/thread_pool.h"

namespace ckpt::internal {

// What a SaveHandle waits for: set once, by the saver's thread.
struct SaveOutcome {
  std::mutex mu;
  std::condition_variable cv;
  std::optional<Result<CheckpointInfo>> result;  // empty until the save ends
};

class AsyncSaver {
 public:
  // Runs one save; Store passes SaveCheckpoint plus its post-save hooks.
  using SaveFn = std::function<Result<CheckpointInfo>(const SaveRequest&, const SaveOptions&)>;

  // `capacity`: bytes of staging. The address range is reserved on first
  // use; pages become resident as saves first touch them and are kept, for
  // reuse without page faults, until destruction. `pool` (may be null)
  // helps copy large requests.
  AsyncSaver(uint64_t capacity, ThreadPool* pool, SaveFn save);
  // Waits until every submitted save has finished.
  ~AsyncSaver();
  AsyncSaver(const AsyncSaver&) = delete;
  AsyncSaver& operator=(const AsyncSaver&) = delete;

  // Validates `request`, copies its bytes into staging (waiting while they
  // do not fit beside the saves still queued) and queues the save. A
  // request whose staged bytes exceed the whole capacity is queued without
  // a copy and waited for: it is then saved from the caller's buffers, like
  // Store::Save, and the handle returned is already Ready. Tensors marked
  // unchanged_since_parent are not copied unless
  // options.check_unchanged_hints. Errors (up front): kInvalidArgument, and
  // kIOError if the staging range cannot be reserved.
  Result<SaveHandle> Submit(const SaveRequest& request, const SaveOptions& options);

  uint64_t capacity() const { return capacity_; }
  // Bytes of staging held by queued saves now, and the most ever held.
  uint64_t staged_bytes() const;
  uint64_t peak_staged_bytes() const;

 private:
  struct Extent {
    uint64_t begin = 0, end = 0;
  };
  struct Job {
    SaveRequest request;  // data pointers into staging (or the caller's, if borrowed)
    SaveOptions options;
    std::shared_ptr<SaveOutcome> outcome;
    Extent extent;       // empty when nothing is staged
    bool ready = false;  // its bytes are copied
  };

  // Finds room for `n` > 0 bytes; REQUIRES mu_ held.
  bool FindRoom(uint64_t n, uint64_t* begin) const;
  Status ReserveRange();
  void Release(const Extent& extent);
  void CopyIn(Job& job, const SaveRequest& request);
  void WorkerLoop();

  const uint64_t capacity_;
  ThreadPool* const pool_;
  const SaveFn save_;
  uint8_t* base_ = nullptr;  // capacity_ bytes, mapped on first use
  size_t mapped_ = 0;        // length of the mapping at base_

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::unique_ptr<Job>> queue_;  // submission order
  std::deque<Extent> live_;                 // staged extents, oldest first
  uint64_t staged_ = 0, peak_staged_ = 0;
  // Admission is first come, first served: a large request waiting for room
  // is not overtaken by later small ones.
  uint64_t next_ticket_ = 0, serving_ = 0;
  bool stopping_ = false;
  std::thread worker_;
};

}  // namespace ckpt::internal
