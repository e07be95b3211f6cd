#include "pack/pack_writer.h"

#include "util/hex.h"

namespace ckpt::internal {

PackWriter::PackWriter() : id_(RandomHexId(16)), buffer_(EncodePackHeader()) {}

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
  AppendPackIndex(entries_, buffer_.size(), &buffer_);
  Status s = backend.Put(PackObjectName(id_), buffer_.data(), buffer_.size());
  std::string().swap(buffer_);
  return s.WithContext("write pack " + id_);
}

}  // namespace ckpt::internal
