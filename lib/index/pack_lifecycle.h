// index/pack_lifecycle: the index writes that take a pack out of service
// and tell concurrent saves that chunk entries moved. One place, so that
// the sweep, the repacker and repair cannot drift apart on what "condemn"
// means (see docs/format.md, "Index").
#pragma once

#include <cstdint>
#include <string>

#include "ckpt/status.h"
#include "index/index.h"

namespace ckpt::internal {

// The gc generation: bumped by every commit that deletes or moves chunk
// entries. A save that deduplicated against the index compares it at its
// commit and writes again any chunk that may be gone. 0 when never set.
Result<uint64_t> ReadGcGeneration(Index& index);
// Adds to `batch` the write that sets the generation to `current + 1`.
void BumpGcGeneration(uint64_t current, IndexBatch* batch);
// Reads the generation from `index` and adds its bump to `batch`.
Status AddGcGenerationBump(Index& index, IndexBatch* batch);

// Adds to `batch` the writes that condemn pack `pack_id` (hex) as of
// `now_ns`: its 'P' key goes and a 'D' key records when, so every chunk
// entry into it stops counting with this commit and its file may be
// deleted once the grace period has passed since `now_ns`.
void CondemnPack(const std::string& pack_id, int64_t now_ns, IndexBatch* batch);

}  // namespace ckpt::internal
