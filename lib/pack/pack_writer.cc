#include "pack/pack_writer.h"

#include "util/hex.h"

namespace ckpt::internal {

PackWriter::PackWriter(uint64_t expected_size, AlignedBuffer reuse)
    : id_(RandomHexId(16)), buffer_(std::move(reuse)) {
  buffer_.clear();
  // A chunk may overshoot the target by up to its own size, plus the index.
  buffer_.reserve(expected_size + expected_size / 8 + kPackHeaderSize);
  buffer_.append(EncodePackHeader());
}

PackEntry PackWriter::Add(EntryKind kind, uint8_t codec, const Digest& digest,
                          std::string_view encoded, uint32_t raw_length) {
  PackEntry e;
  e.kind = kind;
  e.codec = codec;
  e.digest = digest;
  e.offset = buffer_.size();
  e.length = static_cast<uint32_t>(encoded.size());
  e.raw_length = raw_length;
  buffer_.append(encoded.data(), encoded.size());
  entries_.push_back(e);
  return e;
}

Status PackWriter::Finish(Backend& backend) {
  std::string index;
  AppendPackIndex(entries_, buffer_.size(), &index);
  buffer_.append(index);
  Status s = backend.Put(PackObjectName(id_), buffer_.data(), buffer_.size());
  return s.WithContext("write pack " + id_);
}

AlignedBuffer PackWriter::TakeBuffer() {
  buffer_.clear();
  return std::move(buffer_);
}

}  // namespace ckpt::internal
