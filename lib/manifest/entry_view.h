// manifest/entry_view: a checkpoint's entries as readers see them. A
// sharded checkpoint stores a global tensor as pieces and rank-local
// entries per rank; readers see one entry per global tensor (put together
// from its pieces) and name rank R's private entry "rank<R>/<name>". Pure.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "ckpt/result.h"
#include "manifest/manifest_codec.h"

namespace ckpt::internal {

struct EntryView {
  std::string name;
  bool is_blob = false;
  DType dtype = DType::kU8;
  std::vector<int64_t> shape;  // the global shape
  uint64_t byte_length = 0;
  int32_t local_rank = -1;
  // Indices into Manifest::entries: the stored entry, or the pieces of a
  // global tensor in manifest order.
  std::vector<size_t> parts;
  bool pieced = false;
};

// "rank<R>/<name>": how readers name rank R's private entry `name`.
std::string LocalEntryName(int32_t rank, std::string_view name);

// Whether `name` has the form readers give rank-local entries, which the
// global entries of a sharded checkpoint may not use.
bool LooksLikeLocalEntryName(std::string_view name);

// The entries of `m` as readers see them, in manifest order of their first
// part. Errors (kCorruption): pieces of one tensor that disagree on dtype
// or global shape or overlap, a name used twice.
Result<std::vector<EntryView>> ViewEntries(const Manifest& m);

// Shards of one sharded checkpoint, as their ranks recorded them: each
// manifest holds only its rank's entries (writer = rank).
struct ShardManifest {
  uint32_t rank = 0;
  Manifest manifest;
};

// Whether `shards` (distinct ranks, any subset) can make one checkpoint
// together: the same run, step, world size and chunk size, whole global
// entries (replicated) the same on every rank that has them, pieces of a
// tensor of one dtype and global shape and not overlapping, no name both
// whole and in pieces. Errors: kInvalidArgument naming the ranks and entry.
Status CheckShardsFit(const std::vector<const ShardManifest*>& shards);

// The checkpoint's manifest from all world_size shards: metadata and
// parent of rank 0, the latest wall time, each replicated entry once
// (written by the lowest rank that has it), then every piece and
// rank-local entry; tensors before blobs. REQUIRES: CheckShardsFit.
Manifest MergeShards(const std::vector<const ShardManifest*>& shards);

// Whether `merged` is a checkpoint MergeShards made from a set of shards
// that held `shard`: the same run, step and world size, and each of the
// shard's entries in it (a replicated one with the same contents, the
// others written by the shard's rank, with the same chunks).
bool ShardIsPartOf(const ShardManifest& shard, const Manifest& merged);

}  // namespace ckpt::internal
