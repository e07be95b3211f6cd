// pack/: immutable pack files of encoded chunks and manifests. Owns their
// byte layout (this file, pure encode/decode) and writing them through a
// Backend. Knows nothing of tensors or checkpoints.
//
// Pack file grammar (all integers little-endian):
//   pack     := header entry* index trailer
//   header   := "CKPTPACK" version:u32 (=1) reserved:u32 (=0)          16 bytes
//   entry    := the encoded bytes of one chunk or manifest
//   index    := record{entry_count}
//   record   := kind:u8 codec:u8 digest:32 offset:u64 length:u32 raw_length:u32   50 bytes
//   trailer  := index_offset:u64 entry_count:u32 reserved:u32 index_sha256:32 "CKPTPEND"   56 bytes
// kind: 0 chunk, 1 manifest. digest: SHA-256 of the entry's raw (decoded)
// bytes. offset: from the start of the file. The trailer comes last so that
// a pack can be written as a stream and its index found from the end.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "ckpt/status.h"
#include "hash/sha256.h"

namespace ckpt::internal {

inline constexpr char kPackMagic[] = "CKPTPACK";
inline constexpr char kPackEndMagic[] = "CKPTPEND";
inline constexpr uint32_t kPackVersion = 1;
inline constexpr size_t kPackHeaderSize = 16;
inline constexpr size_t kPackRecordSize = 50;
inline constexpr size_t kPackTrailerSize = 56;

enum class EntryKind : uint8_t { kChunk = 0, kManifest = 1 };

struct PackEntry {
  EntryKind kind = EntryKind::kChunk;
  uint8_t codec = 0;
  Digest digest;
  uint64_t offset = 0;
  uint32_t length = 0;
  uint32_t raw_length = 0;
};

std::string EncodePackHeader();
// Appends the index and trailer for `entries`, which start at `index_offset`.
void AppendPackIndex(const std::vector<PackEntry>& entries, uint64_t index_offset,
                     std::string* out);

struct PackTrailer {
  uint64_t index_offset = 0;
  uint32_t entry_count = 0;
  Digest index_digest;
};

// Decodes the last kPackTrailerSize bytes of a pack of `file_size` bytes.
Status DecodePackTrailer(std::string_view bytes, uint64_t file_size, PackTrailer* out);
// Decodes and checks the index bytes named by `trailer`.
Status DecodePackIndex(std::string_view bytes, const PackTrailer& trailer, uint64_t file_size,
                       std::vector<PackEntry>* out);
Status CheckPackHeader(std::string_view bytes);

// Backend object name of the pack with hex id `pack_id`: "packs/ab/abcd…".
std::string PackObjectName(const std::string& pack_id);

}  // namespace ckpt::internal
