// ckpt/manifest.h: read-only descriptions of stored checkpoints and tensors.
//
// These are what listing calls (Store::List, Store::Describe) return; they
// never hold tensor bytes.
//
// Thread-safety: plain values. Stability: stable; fields may be added.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "ckpt/checkpoint.h"
#include "ckpt/dtype.h"

namespace ckpt {

// Where one piece of a sharded tensor lies in it, and who wrote it.
struct PieceInfo {
  uint32_t writer_rank = 0;
  std::vector<int64_t> offsets;  // of the box in the global tensor
  std::vector<int64_t> shape;    // of the box
  uint64_t byte_length = 0;
  std::vector<std::string> chunk_ids;  // hex SHA-256 of each chunk of the box's bytes
};

// One tensor or blob of a checkpoint. In a sharded checkpoint, a global
// tensor written in pieces is one entry with `pieces` (its `shape` the
// global shape, its chunk_ids those of all pieces in order), and an entry
// private to rank R is named "rank<R>/<name>".
struct EntryInfo {
  std::string name;
  bool is_blob = false;
  DType dtype = DType::kU8;  // kU8 for blobs
  std::vector<int64_t> shape;
  uint64_t byte_length = 0;
  uint32_t chunk_count = 0;
  // Hex SHA-256 of each chunk, in order; lets callers compare checkpoints.
  std::vector<std::string> chunk_ids;
  // Sharded checkpoints only: the pieces of a global tensor (empty for an
  // entry stored whole), and the rank of a rank-local entry (-1 otherwise).
  std::vector<PieceInfo> pieces;
  int32_t local_rank = -1;
  uint32_t writer_rank = 0;  // of an entry stored whole: the lowest rank that saved it
};

// A checkpoint as listed.
struct CheckpointInfo {
  std::string id;  // hex SHA-256 of the encoded manifest
  std::string run;
  uint64_t step = 0;
  std::string parent_id;  // empty if none
  CheckpointMeta meta;
  std::vector<std::string> tags;
  uint64_t tensor_count = 0;
  uint64_t blob_count = 0;
  uint64_t logical_bytes = 0;  // sum of tensor and blob lengths
  // Encoded chunk bytes this save added (its manifest, a few KiB, not counted).
  uint64_t new_bytes = 0;
  uint64_t new_raw_bytes = 0;  // logical bytes of the chunks this save added
  uint64_t shared_bytes = 0;   // logical bytes found already stored
  // Sharded checkpoints: how many ranks wrote it (1 otherwise). What a Save
  // of a shard returns while other shards are still to come has an empty
  // `id`, and the number of shards still missing in `shards_missing`.
  uint32_t world_size = 1;
  uint32_t shards_missing = 0;
};

// A checkpoint with its full entry list.
struct CheckpointDetail {
  CheckpointInfo info;
  std::vector<EntryInfo> entries;  // tensors first, then blobs, in saved order
};

// A run and its checkpoint count.
struct RunInfo {
  std::string name;
  uint64_t checkpoint_count = 0;
  uint64_t latest_step = 0;
  std::string latest_id;
};

}  // namespace ckpt
