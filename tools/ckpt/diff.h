// Diff of two checkpoints by their chunk ids, without reading tensor bytes.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "ckpt/manifest.h"

namespace ckpt::cli {

struct EntryChange {
  std::string name;
  const EntryInfo* from = nullptr;  // null if added
  const EntryInfo* to = nullptr;    // null if removed
  uint64_t bytes_changed = 0;       // bytes of `to` in chunks that differ
  uint32_t chunks_changed = 0;      // chunk positions of `to` that differ
  bool type_changed = false;        // kind, dtype or shape differ
};

struct CheckpointDiff {
  std::vector<EntryChange> added;
  std::vector<EntryChange> removed;
  std::vector<EntryChange> changed;
  uint64_t unchanged = 0;
  uint64_t bytes_changed = 0;  // over changed and added entries
  uint64_t bytes_total = 0;    // logical bytes of `to`
};

// Compares the entries of `from` and `to` by name. Pointers in the result
// point into the two details, which must outlive it. `chunk_size` is the
// store's config().chunk_size, which the store cuts tensors with.
CheckpointDiff DiffCheckpoints(const CheckpointDetail& from, const CheckpointDetail& to,
                               uint32_t chunk_size);

// Byte length of each chunk of `entry`, in order, as the store cut them.
std::vector<uint64_t> ChunkLengths(const EntryInfo& entry, uint32_t chunk_size);

}  // namespace ckpt::cli
