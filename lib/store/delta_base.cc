#include "store/delta_base.h"

#include <vector>

#include "repo/config.h"
#include "repo/loader.h"

namespace ckpt::internal {

bool FindDeltaBase(StoreContext& ctx, Index& view, const Digest& parent_chunk, uint64_t length,
                   DeltaBase* out) {
  const int max_depth = ctx.config.delta_max_depth;
  if (max_depth <= 0) return false;
  Digest candidate = parent_chunk;
  for (int hops = 0;; ++hops) {
    if (hops > kMaxDeltaDepth) return false;  // a damaged index; store whole
    auto found = view.FindChunk(candidate);
    if (!found.ok() || !*found) return false;
    const ChunkLocation& loc = **found;
    if (loc.raw_length != length) return false;
    if (loc.depth < max_depth) {
      out->digest = candidate;
      out->depth = loc.depth;
      break;
    }
    candidate = loc.base;
  }
  thread_local std::vector<uint8_t> bytes;
  if (bytes.size() < length) bytes.resize(length);
  // A damaged base must not carry new data: store whole, and leave the
  // damage for verify to report.
  if (!ReadChunk(ctx, view, out->digest, length, bytes.data(), ChunkCheck::kFrameChecksums).ok())
    return false;
  out->bytes = bytes.data();
  return true;
}

}  // namespace ckpt::internal
