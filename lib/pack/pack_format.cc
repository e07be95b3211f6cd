#include "pack/pack_format.h"

#include <cstring>

#include "util/bytes.h"

namespace ckpt::internal {

std::string EncodePackHeader() {
  std::string out(kPackMagic, 8);
  PutFixed32(&out, kPackVersion);
  PutFixed32(&out, 0);
  return out;
}

void AppendPackIndex(const std::vector<PackEntry>& entries, uint64_t index_offset,
                     std::string* out) {
  size_t start = out->size();
  for (const PackEntry& e : entries) {
    out->push_back(static_cast<char>(e.kind));
    out->push_back(static_cast<char>(e.codec));
    out->append(e.digest.View());
    PutFixed64(out, e.offset);
    PutFixed32(out, e.length);
    PutFixed32(out, e.raw_length);
  }
  Digest index_digest = Sha256(out->data() + start, out->size() - start);
  PutFixed64(out, index_offset);
  PutFixed32(out, static_cast<uint32_t>(entries.size()));
  PutFixed32(out, 0);
  out->append(index_digest.View());
  out->append(kPackEndMagic, 8);
}

Status CheckPackHeader(std::string_view bytes) {
  if (bytes.size() < kPackHeaderSize || std::memcmp(bytes.data(), kPackMagic, 8) != 0)
    return Status::Corruption("not a pack file (bad magic)");
  uint32_t version = DecodeFixed32(bytes.data() + 8);
  if (version > kPackVersion)
    return Status::VersionMismatch("pack format version " + std::to_string(version) +
                                   " is newer than this library's " + std::to_string(kPackVersion));
  if (version < kPackVersion)  // no released format had one
    return Status::Corruption("pack format version " + std::to_string(version) + " is invalid");
  return Status::OK();
}

Status DecodePackTrailer(std::string_view bytes, uint64_t file_size, PackTrailer* out) {
  if (bytes.size() != kPackTrailerSize || file_size < kPackHeaderSize + kPackTrailerSize)
    return Status::Corruption("pack too short (" + std::to_string(file_size) + " bytes)");
  if (std::memcmp(bytes.data() + 48, kPackEndMagic, 8) != 0)
    return Status::Corruption("pack trailer magic missing (truncated pack?)");
  ByteReader r(bytes);
  uint32_t reserved;
  std::string_view digest;
  r.GetFixed64(&out->index_offset);
  r.GetFixed32(&out->entry_count);
  r.GetFixed32(&reserved);
  r.GetBytes(Digest::kSize, &digest);
  out->index_digest = Digest::FromView(digest);
  // Compare without adding first: a forged offset could wrap the sum around.
  uint64_t index_space = file_size - kPackTrailerSize;
  uint64_t index_size = uint64_t{out->entry_count} * kPackRecordSize;
  if (out->index_offset < kPackHeaderSize || out->index_offset > index_space ||
      index_space - out->index_offset != index_size)
    return Status::Corruption("pack trailer points outside the pack");
  return Status::OK();
}

Status DecodePackIndex(std::string_view bytes, const PackTrailer& trailer, uint64_t file_size,
                       std::vector<PackEntry>* out) {
  if (Sha256(bytes.data(), bytes.size()) != trailer.index_digest)
    return Status::Corruption("pack index checksum mismatch");
  ByteReader r(bytes);
  out->clear();
  out->reserve(trailer.entry_count);
  for (uint32_t i = 0; i < trailer.entry_count; ++i) {
    PackEntry e;
    uint8_t kind;
    std::string_view digest;
    if (!r.GetByte(&kind) || !r.GetByte(&e.codec) || !r.GetBytes(Digest::kSize, &digest) ||
        !r.GetFixed64(&e.offset) || !r.GetFixed32(&e.length) || !r.GetFixed32(&e.raw_length))
      return Status::Corruption("pack index truncated");
    if (kind > 1) return Status::Corruption("pack index entry of unknown kind");
    e.kind = static_cast<EntryKind>(kind);
    e.digest = Digest::FromView(digest);
    if (e.offset < kPackHeaderSize || e.offset > trailer.index_offset ||
        e.length > trailer.index_offset - e.offset || trailer.index_offset > file_size)
      return Status::Corruption("pack index entry points outside the pack");
    out->push_back(e);
  }
  return Status::OK();
}

std::string PackObjectName(const std::string& pack_id) {
  return "packs/" + pack_id.substr(0, 2) + "/" + pack_id;
}

}  // namespace ckpt::internal
