// repo/loader: reads entries of a checkpoint back: index lookup, pack
// read, decode, SHA-256 check, copy into the caller's buffer (invariant 3).
#pragma once

#include "repo/store_context.h"

namespace ckpt::internal {

// How ReadChunk checks the bytes it decoded.
enum class ChunkCheck {
  kHash,  // SHA-256 of the result against the digest: every load and export
  // zstd's content checksums when every frame of the chain has one, else
  // kHash. For a save reading a delta base: it guards against damage at a
  // fraction of the cost, and a base read wrong cannot go unnoticed, since the
  // load of the new chunk checks its SHA-256.
  kFrameChecksums,
};

// Reads chunk `digest` (raw length `raw_length`) into `dst`, checking it
// as `check` says; a delta chunk decodes its bases first. Errors carry the
// pack and chunk (and the damaged base of a delta); callers add checkpoint
// and tensor.
Status ReadChunk(StoreContext& ctx, Index& index, const Digest& digest, uint64_t raw_length,
                 uint8_t* dst, ChunkCheck check = ChunkCheck::kHash);

// Reads bytes [offset, offset+length) of `entry` of checkpoint `c` into dst.
Status ReadEntryRange(StoreContext& ctx, Index& index, const ResolvedCheckpoint& c,
                      const ManifestEntry& entry, uint64_t offset, uint64_t length, uint8_t* dst);

// Reads the whole `entries` of checkpoint `c`, entries[i] into dsts[i], on
// the pool: all chunks in one parallel loop, each decoded in place.
// `progress` counts the bytes of all entries together.
Status ReadEntries(StoreContext& ctx, Index& index, const ResolvedCheckpoint& c,
                   const std::vector<const ManifestEntry*>& entries,
                   const std::vector<uint8_t*>& dsts, const ProgressFn& progress);

// As ReadEntries, but each chunk is decoded into a buffer of its thread and
// passed to `sink` once checked (see CheckpointReader::StreamEntries).
Status StreamEntries(StoreContext& ctx, Index& index, const ResolvedCheckpoint& c,
                     const std::vector<const ManifestEntry*>& entries, const PieceSink& sink,
                     const ProgressFn& progress);

}  // namespace ckpt::internal
