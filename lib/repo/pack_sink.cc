#include "repo/pack_sink.h"

#include <algorithm>

#include "util/large_region.h"

namespace ckpt::internal {

namespace {

// How far ahead of the appends a pack buffer is faulted in, and in what
// steps: a huge page at a time, two ahead.
constexpr uint64_t kPopulateStep = kHugePageSize;
constexpr uint64_t kPopulateAhead = 2 * kHugePageSize;

}  // namespace

Status PackSink::Add(EntryKind kind, uint8_t codec, const Digest& digest, std::string_view encoded,
                     uint32_t raw_length, ChunkLocation* loc) {
  std::unique_ptr<PackWriter> full;
  // Pages of the open pack's buffer to fault in once the lock is released:
  // a copy that takes the faults under the lock (~3 ms per MiB of memory
  // the host has not backed, on the benchmark VM) holds every other worker
  // up, while outside it the faults run beside their hashing and coding.
  const char* populate = nullptr;
  uint64_t populate_length = 0;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!current_) {
      AlignedBuffer buffer;
      if (!spare_buffers_.empty()) {
        buffer = std::move(spare_buffers_.back());
        spare_buffers_.pop_back();
      }
      current_ = std::make_unique<PackWriter>(target_, std::move(buffer));
      populated_ = 0;
    }
    PackEntry e = current_->Add(kind, codec, digest, encoded, raw_length);
    loc->pack_id = current_->id();
    loc->offset = e.offset;
    loc->length = e.length;
    loc->raw_length = raw_length;
    loc->codec = codec;
    if (current_->size() >= target_) {
      full = std::move(current_);
    } else if (current_->capacity() >= kHugePageSize &&
               current_->size() + kPopulateAhead > populated_ &&
               populated_ < current_->capacity()) {
      populate = current_->data() + populated_;
      populate_length = std::min<uint64_t>(kPopulateStep, current_->capacity() - populated_);
      populated_ += populate_length;
    }
  }
  // Outside the lock the buffer may meanwhile be sealed, reused or, after
  // an entry larger than its room, reallocated: populating never changes
  // contents, and on a range no longer mapped it fails harmlessly.
  if (populate) PopulateLargeRegion(populate, populate_length);
  return full ? SealInBackground(std::move(full)) : Status::OK();
}

PackSink::~PackSink() {
  (void)WaitAll();
  if (in_flight_) in_flight_->Remove(listed_);
}

Status PackSink::SealInBackground(std::unique_ptr<PackWriter> writer) {
  std::future<Status> oldest;
  {
    std::lock_guard<std::mutex> lock(sealing_mu_);
    if (sealing_.size() >= kMaxSealing) {
      oldest = std::move(sealing_.front());
      sealing_.pop_front();
    }
  }
  Status s = oldest.valid() ? oldest.get() : Status::OK();
  // std::async takes a copyable callable: hand the writer over as a raw
  // pointer and own it again inside.
  PackWriter* raw = writer.release();
  auto future = std::async(std::launch::async,
                           [this, raw] { return Seal(std::unique_ptr<PackWriter>(raw)); });
  std::lock_guard<std::mutex> lock(sealing_mu_);
  sealing_.push_back(std::move(future));
  return s;
}

Status PackSink::WaitAll() {
  std::deque<std::future<Status>> pending;
  {
    std::lock_guard<std::mutex> lock(sealing_mu_);
    pending.swap(sealing_);
  }
  Status first;
  for (auto& f : pending) {
    Status s = f.get();
    if (first.ok() && !s.ok()) first = s;
  }
  return first;
}

Status PackSink::Flush() {
  std::unique_ptr<PackWriter> last;
  {
    std::lock_guard<std::mutex> lock(mu_);
    last = std::move(current_);
  }
  Status s = last ? Seal(std::move(last)) : Status::OK();
  Status pending = WaitAll();
  return s.ok() ? pending : s;
}

Status PackSink::Seal(std::unique_ptr<PackWriter> writer) {
  if (in_flight_) {
    in_flight_->Add(writer->id());
    std::lock_guard<std::mutex> lock(mu_);
    listed_.push_back(writer->id());
  }
  PackRecord record;
  record.entry_count = writer->entries().size();
  Status s = writer->Finish(backend_);
  // The bytes just stored, as Put took them whole: asking the backend
  // would cost an object store a request per pack.
  if (s.ok()) record.size = writer->size();
  std::lock_guard<std::mutex> lock(mu_);
  spare_buffers_.push_back(writer->TakeBuffer());
  if (s.ok()) sealed_.emplace_back(writer->id(), record);
  return s;
}

}  // namespace ckpt::internal
