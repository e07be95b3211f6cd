// pack/pack_reader: positioned reads of entries and whole-index reads, for
// load, verify and repair.
#include "pack/pack_writer.h"

namespace ckpt::internal {

Status ReadPackBytes(Backend& backend, const std::string& pack_id, uint64_t offset, uint32_t length,
                     std::string* out) {
  out->resize(length);
  return ReadPackBytesInto(backend, pack_id, offset, length, out->data());
}

Status ReadPackBytesInto(Backend& backend, const std::string& pack_id, uint64_t offset,
                         uint64_t length, void* dst) {
  Status s = backend.Get(PackObjectName(pack_id), offset, length, dst);
  // The index points into this pack, so its absence is damage, not a bad ref.
  if (s.code() == Code::kNotFound) s = Status::Corruption("pack is missing: " + s.message());
  return s.WithContext("pack " + pack_id);
}

Status ReadPackIndex(Backend& backend, const std::string& pack_id, std::vector<PackEntry>* entries,
                     uint64_t* file_size) {
  const std::string ctx = "pack " + pack_id;
  auto size = backend.Size(PackObjectName(pack_id));
  if (!size.ok()) return size.status().WithContext(ctx);
  *file_size = *size;
  if (*file_size < kPackHeaderSize + kPackTrailerSize)
    return Status::Corruption("pack too short (" + std::to_string(*file_size) + " bytes)")
        .WithContext(ctx);
  std::string header, trailer_bytes;
  CKPT_RETURN_IF_ERROR(ReadPackBytes(backend, pack_id, 0, kPackHeaderSize, &header));
  CKPT_RETURN_IF_ERROR(CheckPackHeader(header).WithContext(ctx));
  CKPT_RETURN_IF_ERROR(ReadPackBytes(backend, pack_id, *file_size - kPackTrailerSize,
                                     kPackTrailerSize, &trailer_bytes));
  PackTrailer trailer;
  CKPT_RETURN_IF_ERROR(DecodePackTrailer(trailer_bytes, *file_size, &trailer).WithContext(ctx));
  std::string index;
  CKPT_RETURN_IF_ERROR(ReadPackBytes(backend, pack_id, trailer.index_offset,
                                     trailer.entry_count * kPackRecordSize, &index));
  return DecodePackIndex(index, trailer, *file_size, entries).WithContext(ctx);
}

}  // namespace ckpt::internal
