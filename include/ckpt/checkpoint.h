// ckpt/checkpoint.h: what a caller hands to Save and gets back from Load.
//
// A checkpoint is tensors (typed, shaped arrays), opaque named blobs (RNG
// state, data-loader position, tokenizer files) and metadata. The *View types
// borrow the caller's memory and copy nothing; the owning types hold bytes.
//
// Thread-safety: plain values. Stability: stable.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "ckpt/dtype.h"

namespace ckpt {

// A tensor in the caller's memory. `data` must stay valid and unchanged for
// the duration of a synchronous Save; Store::SaveAsync copies it first.
struct TensorView {
  std::string name;
  DType dtype = DType::kF32;
  std::vector<int64_t> shape;  // empty for a scalar
  const void* data = nullptr;
  size_t size = 0;  // bytes; must equal DTypeSize(dtype) * product(shape)
  // Hint: the bytes equal this tensor's bytes in the parent checkpoint
  // (frozen parameters). Save then reuses the parent's chunks without
  // reading or hashing `data`; with SaveOptions::check_unchanged_hints it
  // hashes anyway and fails if the hint was wrong. Save fails with
  // kInvalidArgument if the parent has no tensor of this name, dtype and
  // shape. `data` may then be null; if it is not, Save hashes it in the
  // rare case that a concurrent gc reclaimed the parent's chunks and they
  // must be written again (with null data, or in SaveAsync, which does not
  // stage hinted tensors, that save fails with kAborted instead).
  bool unchanged_since_parent = false;

  // Sharded saves (SaveRequest::world_size > 1) only. A piece of a global
  // tensor: `shape` and `data` are the box this rank holds, at `offsets` in
  // a tensor of `global_shape` (all three of the same rank, the box inside).
  // Several pieces of one tensor (same name) may come from one rank or
  // many; they must not overlap. Empty: the whole tensor; a whole tensor
  // saved by several ranks must be the same bytes on each (replicated) and
  // is stored once.
  std::vector<int64_t> global_shape = {};
  std::vector<int64_t> offsets = {};
  // Private to this rank (its RNG state, its data-loader position): stored
  // per rank, read back as "rank<R>/<name>" (see Store::LoadBox, Load).
  bool rank_local = false;
};

// An opaque byte string in the caller's memory, stored and returned verbatim.
struct BlobView {
  std::string name;
  const void* data = nullptr;
  size_t size = 0;
  // Sharded saves: private to this rank, as TensorView::rank_local.
  bool rank_local = false;
};

// Metadata of a checkpoint, chosen by the caller.
struct CheckpointMeta {
  std::map<std::string, double> metrics;          // e.g. {"loss", 0.41}
  std::map<std::string, std::string> attributes;  // free-form string pairs
  // Wall time of the save in nanoseconds since the Unix epoch; 0 means "now".
  int64_t wall_time_ns = 0;
};

// Everything one Save call stores.
struct SaveRequest {
  std::string run;  // [A-Za-z0-9._-]+, at most 128 bytes
  uint64_t step = 0;
  std::vector<TensorView> tensors;
  std::vector<BlobView> blobs;
  CheckpointMeta meta;
  // The parent checkpoint's ref; empty means the run's latest checkpoint, if any.
  std::string parent;
  // A sharded checkpoint: this request is the shard of rank `rank` of
  // `world_size` writers of run@step, each a separate Save, from any
  // process of any host sharing the store. The checkpoint becomes visible,
  // whole, when the last of the world_size shards is saved (whichever that
  // is); until then no reader, listing or gc sees it. The checkpoint's
  // metadata and parent are rank 0's. See docs/design.md, "Sharded
  // checkpoints".
  uint32_t rank = 0;
  uint32_t world_size = 1;
};

// A tensor held in memory, as returned by Store::Load.
struct Tensor {
  std::string name;
  DType dtype = DType::kF32;
  std::vector<int64_t> shape;
  std::vector<uint8_t> data;
};

// A blob held in memory, as returned by Store::Load.
struct Blob {
  std::string name;
  std::vector<uint8_t> data;
};

// A whole checkpoint held in memory.
struct LoadedCheckpoint {
  std::string id;  // hex SHA-256 of the manifest
  std::string run;
  uint64_t step = 0;
  std::string parent_id;        // empty if none
  std::vector<Tensor> tensors;  // in saved order
  std::vector<Blob> blobs;      // in saved order
  CheckpointMeta meta;
};

}  // namespace ckpt
