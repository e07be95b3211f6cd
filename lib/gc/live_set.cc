#include "gc/live_set.h"

#include <algorithm>
#include <mutex>

#include "repo/config.h"
#include "repo/pending_shards.h"
#include "repo/staged_shards.h"

namespace ckpt::internal {

bool LiveSet::ContainsChunk(const Digest& d) const {
  return std::binary_search(chunks.begin(), chunks.end(), d);
}

namespace {

void SortUnique(std::vector<Digest>* v) {
  std::sort(v->begin(), v->end());
  v->erase(std::unique(v->begin(), v->end()), v->end());
}

// Drops from sorted `fresh` what `live` holds already.
void DropKnown(const LiveSet& live, std::vector<Digest>* fresh) {
  std::vector<Digest> out;
  out.reserve(fresh->size());
  std::set_difference(fresh->begin(), fresh->end(), live.chunks.begin(), live.chunks.end(),
                      std::back_inserter(out));
  fresh->swap(out);
}

// Looks up every chunk in `fresh` (sorted, none of them in live yet), counts
// its bytes to its pack, adds it to live, and returns the bases of the
// delta chunks among them. Chunks missing from the index are left to
// verify to report.
Result<std::vector<Digest>> Locate(StoreContext& ctx, Index& index, LiveSet* live,
                                   const std::vector<Digest>& fresh) {
  std::mutex mu;
  Status error;
  std::vector<Digest> bases;
  std::map<std::string, uint64_t> bytes, entries;
  // Sorted batches of lookups, spread over the pool.
  constexpr size_t kBatch = 512;
  const size_t batches = (fresh.size() + kBatch - 1) / kBatch;
  ctx.pool->ParallelFor(batches, [&](size_t b) {
    std::map<std::string, uint64_t> my_bytes, my_entries;
    std::vector<Digest> my_bases;
    std::vector<std::optional<ChunkLocation>> found;
    const size_t begin = b * kBatch, end = std::min(fresh.size(), begin + kBatch);
    Status my_error = index.FindChunks(fresh, begin, end, &found).WithContext("gc mark");
    for (const auto& loc : found) {
      if (!loc) continue;
      my_bytes[loc->pack_id] += loc->length;
      my_entries[loc->pack_id]++;
      if (loc->is_delta()) my_bases.push_back(loc->base);
    }
    std::lock_guard<std::mutex> lock(mu);
    if (!my_error.ok() && error.ok()) error = my_error;
    for (const auto& [pack, n] : my_bytes) bytes[pack] += n;
    for (const auto& [pack, n] : my_entries) entries[pack] += n;
    bases.insert(bases.end(), my_bases.begin(), my_bases.end());
  });
  CKPT_RETURN_IF_ERROR(error);
  for (const auto& [pack, n] : bytes) live->pack_live_bytes[pack] += n;
  for (const auto& [pack, n] : entries) live->pack_live_entries[pack] += n;
  std::vector<Digest> merged;
  merged.reserve(live->chunks.size() + fresh.size());
  std::merge(live->chunks.begin(), live->chunks.end(), fresh.begin(), fresh.end(),
             std::back_inserter(merged));
  live->chunks.swap(merged);
  return bases;
}

}  // namespace

Status MarkLive(StoreContext& ctx, Index& index, LiveSet* live, const std::set<Digest>& excluded) {
  std::vector<Digest> fresh;
  size_t compacted = 0;
  Status error;
  CKPT_RETURN_IF_ERROR(index.Scan(kCheckpointKeys, [&](std::string_view k, std::string_view v) {
    Digest id = Digest::FromView(k.substr(1));
    if (excluded.count(id) || live->checkpoints.count(id)) return true;
    CheckpointRecord rec;
    Manifest m;
    error = DecodeCheckpointRecord(v, &rec);
    if (error.ok()) error = DecodeManifest(rec.manifest, &m);
    if (!error.ok()) {
      // An unreadable record must stop gc: its chunks would look dead.
      error = error.WithContext("gc mark: checkpoint " + id.ShortHex());
      return false;
    }
    live->checkpoints.insert(id);
    live->manifests[id] = rec.manifest_location;
    live->pack_live_bytes[rec.manifest_location.pack_id] += rec.manifest_location.length;
    live->pack_live_entries[rec.manifest_location.pack_id]++;
    for (const auto& e : m.entries) fresh.insert(fresh.end(), e.chunks.begin(), e.chunks.end());
    // Checkpoints share most chunks: deduplicate as we go to bound memory.
    if (fresh.size() > 2 * compacted + (1 << 16)) {
      SortUnique(&fresh);
      compacted = fresh.size();
    }
    return true;
  }));
  CKPT_RETURN_IF_ERROR(error);
  // Shards of checkpoints still being written: their chunks are indexed and
  // the checkpoint will name them.
  CKPT_RETURN_IF_ERROR(ForEachPendingShard(index, [&](PendingShard& p) {
                         if (!live->shards.emplace(p.key, p.record.recorded_at_ns).second)
                           return Status::OK();
                         for (const auto& e : p.shard.manifest.entries)
                           fresh.insert(fresh.end(), e.chunks.begin(), e.chunks.end());
                         return Status::OK();
                       }).WithContext("gc mark"));
  if (ctx.shared_index) {
    // Shards staged in the bucket: their new chunks are not indexed until
    // the checkpoint completes, but what they found stored, and the bases
    // of their deltas, must stay (chunks not indexed are skipped below).
    auto staged = ReadAllStagedShards(ctx);
    if (!staged.ok()) return staged.status().WithContext("gc mark");
    for (const StagedShard& s : *staged) {
      for (const auto& e : s.shard.manifest.entries)
        fresh.insert(fresh.end(), e.chunks.begin(), e.chunks.end());
      for (const auto& [digest, loc] : s.chunks)
        if (loc.is_delta()) fresh.push_back(loc.base);
    }
  }
  // Live chunks, then their bases, then theirs: chains are at most
  // kMaxDeltaDepth long, so a damaged index cannot make this loop.
  for (int pass = 0; pass <= kMaxDeltaDepth + 1; ++pass) {
    SortUnique(&fresh);
    DropKnown(*live, &fresh);
    if (fresh.empty()) return Status::OK();
    CKPT_ASSIGN_OR_RETURN(fresh, Locate(ctx, index, live, fresh));
  }
  return Status::Corruption("gc mark: delta chains longer than " + std::to_string(kMaxDeltaDepth) +
                            " in the index");
}

}  // namespace ckpt::internal
