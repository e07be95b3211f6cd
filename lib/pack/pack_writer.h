// pack/pack_writer: builds one pack in memory and stores it through the
// backend in a single atomic, durable Put. Not thread-safe: one writer per
// pack, guarded by its owner.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "ckpt/backend.h"
#include "pack/pack_format.h"
#include "util/aligned_buffer.h"

namespace ckpt::internal {

class PackWriter {
 public:
  // Starts a pack with a fresh random id, with room for `expected_size`
  // bytes so that appending never reallocates and copies. `reuse` (maybe
  // empty) is the buffer of an earlier pack: its pages are already mapped.
  explicit PackWriter(uint64_t expected_size = 0, AlignedBuffer reuse = {});

  const std::string& id() const { return id_; }
  // Bytes so far, header included; after Finish, the whole stored pack.
  uint64_t size() const { return buffer_.size(); }
  // The buffer's start and the bytes it holds without reallocating.
  const char* data() const { return buffer_.data(); }
  size_t capacity() const { return buffer_.capacity(); }
  bool empty() const { return entries_.empty(); }

  // Appends one encoded entry; returns where it landed.
  PackEntry Add(EntryKind kind, uint8_t codec, const Digest& digest, std::string_view encoded,
                uint32_t raw_length);

  // Appends the index and trailer and stores the pack as one object. On OK
  // the pack is durable. Leaves the writer unusable but for TakeBuffer.
  Status Finish(Backend& backend);
  // The pack's buffer, emptied, for the next pack's writer.
  AlignedBuffer TakeBuffer();
  const std::vector<PackEntry>& entries() const { return entries_; }

 private:
  std::string id_;
  AlignedBuffer buffer_;
  std::vector<PackEntry> entries_;
};

// Reads `length` bytes at `offset` of pack `pack_id`.
Status ReadPackBytes(Backend& backend, const std::string& pack_id, uint64_t offset, uint32_t length,
                     std::string* out);
// The same into `dst`, which has room for `length` bytes.
Status ReadPackBytesInto(Backend& backend, const std::string& pack_id, uint64_t offset,
                         uint64_t length, void* dst);

// Reads and checks the index of pack `pack_id`; also returns its file size.
Status ReadPackIndex(Backend& backend, const std::string& pack_id, std::vector<PackEntry>* entries,
                     uint64_t* file_size);

}  // namespace ckpt::internal
