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

// One tensor or blob of a checkpoint.
struct EntryInfo {
  std::string name;
  bool is_blob = false;
  DType dtype = DType::kU8;  // kU8 for blobs
  std::vector<int64_t> shape;
  uint64_t byte_length = 0;
  uint32_t chunk_count = 0;
  // Hex SHA-256 of each chunk, in order; lets callers compare checkpoints.
  std::vector<std::string> chunk_ids;
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
