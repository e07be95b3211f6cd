#include "repo/pack_sink.h"

namespace ckpt::internal {

Status PackSink::Add(EntryKind kind, uint8_t codec, const Digest& digest, std::string_view encoded,
                     uint32_t raw_length, ChunkLocation* loc) {
  std::unique_ptr<PackWriter> full;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!current_) {
      AlignedBuffer buffer;
      if (!spare_buffers_.empty()) {
        buffer = std::move(spare_buffers_.back());
        spare_buffers_.pop_back();
      }
      current_ = std::make_unique<PackWriter>(target_, std::move(buffer));
    }
    PackEntry e = current_->Add(kind, codec, digest, encoded, raw_length);
    loc->pack_id = current_->id();
    loc->offset = e.offset;
    loc->length = e.length;
    loc->raw_length = raw_length;
    loc->codec = codec;
    if (current_->size() >= target_) full = std::move(current_);
  }
  return full ? SealInBackground(std::move(full)) : Status::OK();
}

PackSink::~PackSink() { (void)WaitAll(); }

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
