#include "store/async_saver.h"

#include <cassert>
#include <cerrno>
#include <cstring>
#include <system_error>

#include "store/save_validation.h"
#include "util/large_region.h"

namespace ckpt::internal {
namespace {

// Entries start on cache lines, so copies and later hashing run aligned.
constexpr uint64_t kAlign = 64;
// Large requests are copied in slices of this size on the pool; 2 MiB is
// one huge page, so parallel first touches do not fault the same page.
constexpr size_t kCopySlice = 2u << 20;
// Below this, waking the pool costs more than it saves.
constexpr uint64_t kParallelCopyMin = 8u << 20;

uint64_t AlignUp(uint64_t n) { return (n + kAlign - 1) & ~(kAlign - 1); }

// A tensor hinted unchanged_since_parent is not read by the save unless it
// is asked to check the hint (checkpoint.h), so it needs no copy; its view
// keeps the hint and no pointer.
bool NeedsCopy(const TensorView& t, const SaveOptions& options) {
  return !t.unchanged_since_parent || options.check_unchanged_hints;
}

uint64_t StagedSize(const SaveRequest& request, const SaveOptions& options) {
  uint64_t n = 0;
  for (const auto& t : request.tensors)
    if (NeedsCopy(t, options)) n += AlignUp(t.size);
  for (const auto& b : request.blobs) n += AlignUp(b.size);
  return n;
}

}  // namespace

AsyncSaver::AsyncSaver(uint64_t capacity, ThreadPool* pool, SaveFn save)
    : capacity_(capacity), pool_(pool), save_(std::move(save)) {
  worker_ = std::thread([this] { WorkerLoop(); });
}

AsyncSaver::~AsyncSaver() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  worker_.join();  // after the queue has drained
  UnmapLargeRegion(base_, mapped_);
}

uint64_t AsyncSaver::staged_bytes() const {
  std::lock_guard<std::mutex> lock(mu_);
  return staged_;
}

uint64_t AsyncSaver::peak_staged_bytes() const {
  std::lock_guard<std::mutex> lock(mu_);
  return peak_staged_;
}

Status AsyncSaver::ReserveRange() {
  if (base_ != nullptr) return Status::OK();
  // Address space only: a page costs memory once a save first writes it,
  // and then stays, so steady-state copies take no page faults.
  void* p = MapLargeRegion(capacity_, /*noreserve=*/true, &mapped_);
  if (p == nullptr)
    return Status::IOError("reserve " + std::to_string(capacity_) + " bytes of staging: " +
                           std::error_code(errno, std::generic_category()).message());
  base_ = static_cast<uint8_t*>(p);
  return Status::OK();
}

// Extents are taken and released strictly in submission order, so staging
// is a ring: live bytes run from the oldest extent's begin to the newest's
// end, wrapping at most once. An extent never wraps; the unused tail it
// skips is free again once the extents before it are released.
bool AsyncSaver::FindRoom(uint64_t n, uint64_t* begin) const {
  if (n > capacity_) return false;
  if (live_.empty()) {
    *begin = 0;  // back to the start: those pages are resident already
    return true;
  }
  const uint64_t head = live_.back().end, tail = live_.front().begin;
  if (live_.back().begin < tail) {  // wrapped: free is [head, tail)
    if (tail - head < n) return false;
    *begin = head;
    return true;
  }
  if (capacity_ - head >= n) {
    *begin = head;
    return true;
  }
  if (tail >= n) {
    *begin = 0;
    return true;
  }
  return false;
}

void AsyncSaver::Release(const Extent& extent) {
  assert(!live_.empty() && live_.front().begin == extent.begin);
  live_.pop_front();
  staged_ -= extent.end - extent.begin;
}

void AsyncSaver::CopyIn(Job& job, const SaveRequest& request) {
  struct Piece {
    uint8_t* dst;
    const uint8_t* src;
    size_t size;
  };
  std::vector<Piece> pieces;
  uint8_t* at = base_ + job.extent.begin;
  uint64_t total = 0;
  auto stage = [&](const void* data, size_t size) {
    uint8_t* dst = at;
    at += AlignUp(size);
    total += size;
    const auto* src = static_cast<const uint8_t*>(data);
    for (size_t off = 0; off < size; off += kCopySlice)
      pieces.push_back({dst + off, src + off, std::min(kCopySlice, size - off)});
    return dst;
  };
  for (size_t i = 0; i < request.tensors.size(); ++i) {
    const TensorView& t = request.tensors[i];
    if (!NeedsCopy(t, job.options))
      job.request.tensors[i].data = nullptr;  // the caller's: never read after return
    else if (t.size > 0)
      job.request.tensors[i].data = stage(t.data, t.size);
  }
  for (size_t i = 0; i < request.blobs.size(); ++i) {
    const BlobView& b = request.blobs[i];
    if (b.size > 0) job.request.blobs[i].data = stage(b.data, b.size);
  }
  assert(at <= base_ + job.extent.end);
  auto copy = [&pieces](size_t i) { std::memcpy(pieces[i].dst, pieces[i].src, pieces[i].size); };
  if (pool_ != nullptr && pool_->size() > 0 && total >= kParallelCopyMin) {
    pool_->ParallelFor(pieces.size(), copy);
  } else {
    for (size_t i = 0; i < pieces.size(); ++i) copy(i);
  }
}

Result<SaveHandle> AsyncSaver::Submit(const SaveRequest& request, const SaveOptions& options) {
  Status valid = ValidateSaveRequest(request);
  if (!valid.ok())
    return valid.WithContext("save " + request.run + "@" + std::to_string(request.step));
  const uint64_t need = StagedSize(request, options);
  // Too large to stage at all: save from the caller's buffers, in turn.
  const bool borrowed = need > capacity_;

  auto job = std::make_unique<Job>();
  job->request = request;  // names, shapes, metadata; data pointers are redirected below
  job->options = options;
  job->outcome = std::make_shared<SaveOutcome>();
  SaveHandle handle(job->outcome);
  Job* queued = job.get();
  {
    std::unique_lock<std::mutex> lock(mu_);
    const uint64_t ticket = next_ticket_++;
    uint64_t begin = 0;
    Status reserved;
    cv_.wait(lock, [&] {
      if (serving_ != ticket) return false;
      if (borrowed || need == 0) return true;
      reserved = ReserveRange();
      return !reserved.ok() || FindRoom(need, &begin);
    });
    if (!reserved.ok()) {
      serving_++;
      lock.unlock();
      cv_.notify_all();
      return reserved.WithContext("save " + request.run + "@" + std::to_string(request.step));
    }
    if (!borrowed && need > 0) {
      job->extent = {begin, begin + need};
      live_.push_back(job->extent);
      staged_ += need;
      peak_staged_ = std::max(peak_staged_, staged_);
    } else {
      job->ready = true;
    }
    queue_.push_back(std::move(job));
    serving_++;
  }
  cv_.notify_all();
  if (borrowed) {
    (void)handle.Wait();
    return handle;
  }
  if (need > 0) {
    // Outside the lock: the extent is this job's alone, and the worker does
    // not look at the job until it is ready.
    CopyIn(*queued, request);
    {
      std::lock_guard<std::mutex> lock(mu_);
      queued->ready = true;
    }
    cv_.notify_all();
  }
  return handle;
}

void AsyncSaver::WorkerLoop() {
  std::unique_lock<std::mutex> lock(mu_);
  for (;;) {
    cv_.wait(lock, [this] {
      return (!queue_.empty() && queue_.front()->ready) || (stopping_ && queue_.empty());
    });
    if (queue_.empty()) return;
    Job& job = *queue_.front();
    lock.unlock();
    auto result = save_(job.request, job.options);
    lock.lock();
    // Staging is free again before the handle says so: a caller that waits
    // and then submits finds the same, already resident, pages.
    if (job.extent.end > job.extent.begin) Release(job.extent);
    std::shared_ptr<SaveOutcome> outcome = std::move(job.outcome);
    queue_.pop_front();
    lock.unlock();
    cv_.notify_all();
    {
      std::lock_guard<std::mutex> settle(outcome->mu);
      outcome->result = std::move(result);
    }
    outcome->cv.notify_all();
    lock.lock();
  }
}

}  // namespace ckpt::internal

namespace ckpt {

SaveHandle::SaveHandle(std::shared_ptr<internal::SaveOutcome> outcome)
    : outcome_(std::move(outcome)) {}

Result<CheckpointInfo> SaveHandle::Wait() const {
  if (!outcome_) return Status::InvalidArgument("SaveHandle was moved from");
  std::unique_lock<std::mutex> lock(outcome_->mu);
  outcome_->cv.wait(lock, [this] { return outcome_->result.has_value(); });
  return *outcome_->result;
}

bool SaveHandle::Ready() const {
  if (!outcome_) return true;
  std::lock_guard<std::mutex> lock(outcome_->mu);
  return outcome_->result.has_value();
}

}  // namespace ckpt
