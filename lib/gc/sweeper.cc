#include "gc/sweeper.h"

#include "util/bytes.h"

namespace ckpt::internal {

Result<uint64_t> ReadGcGeneration(Index& index) {
  CKPT_ASSIGN_OR_RETURN(auto value, index.Get(kGcGenerationKey));
  if (!value) return uint64_t{0};
  if (value->size() != 8) return Status::Corruption("index: malformed gc generation");
  return DecodeFixed64(value->data());
}

void BumpGcGeneration(uint64_t current, IndexBatch* batch) {
  std::string value;
  PutFixed64(&value, current + 1);
  batch->Put(kGcGenerationKey, value);
}

Result<SweepResult> SweepIndex(StoreContext& ctx, LiveSet& live, bool apply, int64_t now_ns) {
  SweepResult result;
  // Checkpoints committed since the mark reference chunks too.
  if (apply) CKPT_RETURN_IF_ERROR(MarkLive(ctx, &live));
  for (const auto& [id, loc] : live.manifests) result.packs[loc.pack_id].live_bytes += loc.length;

  IndexBatch batch;
  Status error;
  CKPT_RETURN_IF_ERROR(ctx.index->Scan("C", [&](std::string_view k, std::string_view v) {
    ChunkLocation loc;
    error = DecodeChunkLocation(v, &loc);
    if (!error.ok()) return false;
    PackUsage& usage = result.packs[loc.pack_id];
    if (live.ContainsChunk(Digest::FromView(k.substr(1)))) {
      usage.live_bytes += loc.length;
      return true;
    }
    usage.dead_bytes += loc.length;
    result.chunks_removed++;
    result.bytes_unreferenced += loc.length;
    if (apply) batch.Delete(k);
    return true;
  }));
  CKPT_RETURN_IF_ERROR(error);
  // Packs with no chunk entries left (e.g. holding only the manifest of a
  // deleted checkpoint) show up only here.
  CKPT_RETURN_IF_ERROR(ctx.index->Scan("P", [&](std::string_view k, auto) {
    result.packs[PackIdOfKey(k)];
    return true;
  }));
  if (!apply) return result;

  std::string condemned_at;
  PutFixed64(&condemned_at, static_cast<uint64_t>(now_ns));
  for (auto it = result.packs.begin(); it != result.packs.end();) {
    if (it->second.live_bytes == 0) {
      batch.Delete(PackKey(it->first));
      batch.Put(CondemnedKey(it->first), condemned_at);
      it = result.packs.erase(it);
    } else {
      ++it;
    }
  }
  CKPT_ASSIGN_OR_RETURN(uint64_t generation, ReadGcGeneration(*ctx.index));
  BumpGcGeneration(generation, &batch);
  CKPT_RETURN_IF_ERROR(ctx.index->Commit(batch).WithContext("gc sweep"));
  return result;
}

}  // namespace ckpt::internal
