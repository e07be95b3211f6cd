// manifest/: the description of one checkpoint, and its byte encoding. A
// checkpoint's id is the SHA-256 of its encoded manifest. Pure: no I/O.
//
// Manifest grammar (integers: varint = LEB128, fixed = little-endian):
//   manifest := "CKPTMANI" version:fixed32 (1, or 2 for a sharded checkpoint)
//               run:lstr step:varint wall_time_ns:fixed64 parent:lstr (0 or 32 bytes)
//               chunk_size:varint [version 2: world_size:varint]
//               metric_count:varint (name:lstr value:fixed64 (IEEE-754 bits))*
//               attribute_count:varint (key:lstr value:lstr)*
//               entry_count:varint entry*
//   entry    := kind:u8 (0 tensor, 1 blob; version 2 also 2: a piece of a tensor)
//               name:lstr [version 2: scope:varint (0 global, 1+R private to rank R)
//               writer:varint (the rank that wrote it)] dtype:u8 rank:varint dim:varint{rank}
//               [kind 2: global_dim:varint{rank} offset:varint{rank}]
//               byte_length:varint chunk_count:varint digest:32{chunk_count}
//   lstr     := length:varint bytes
// Chunk i of an entry covers bytes [i*span, min((i+1)*span, byte_length)) with
// span = ChunkSpan(chunk_size, DTypeSize(dtype)) (blobs: dtype U8).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "ckpt/dtype.h"
#include "ckpt/status.h"
#include "hash/sha256.h"

namespace ckpt::internal {

inline constexpr char kManifestMagic[] = "CKPTMANI";
inline constexpr uint32_t kManifestVersion = 1;
inline constexpr uint32_t kShardedManifestVersion = 2;
// Most writers of one sharded checkpoint.
inline constexpr uint32_t kMaxWorldSize = 1u << 20;

struct ManifestEntry {
  std::string name;
  bool is_blob = false;
  DType dtype = DType::kU8;
  std::vector<int64_t> shape;
  uint64_t byte_length = 0;
  std::vector<Digest> chunks;
  // Sharded checkpoints only. A piece of a global tensor of `global_shape`
  // (empty: the entry is whole), at `offsets`; `shape` is the piece's box.
  std::vector<int64_t> global_shape = {};
  std::vector<int64_t> offsets = {};
  int32_t local_rank = -1;  // >= 0: private to that rank
  uint32_t writer = 0;      // the rank that wrote it

  bool is_piece() const { return !global_shape.empty(); }
};

struct Manifest {
  std::string run;
  uint64_t step = 0;
  int64_t wall_time_ns = 0;
  std::optional<Digest> parent;
  uint32_t chunk_size = 0;
  std::map<std::string, double> metrics;
  std::map<std::string, std::string> attributes;
  uint32_t world_size = 1;  // > 1, or any piece or rank-local entry: version 2
  std::vector<ManifestEntry> entries;

  bool sharded() const;
  // A copy of every field but the entries.
  Manifest Head() const;

  // Span of each chunk of `entry`.
  uint64_t SpanOf(const ManifestEntry& entry) const;
  // Returns the entry named `name`, or null.
  const ManifestEntry* Find(std::string_view name) const;
};

std::string EncodeManifest(const Manifest& manifest);
// Errors: kCorruption for malformed bytes, kVersionMismatch for a newer version.
Status DecodeManifest(std::string_view bytes, Manifest* out);

}  // namespace ckpt::internal
