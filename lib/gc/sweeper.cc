#include "gc/sweeper.h"

#include <algorithm>
#include <chrono>
#include <map>
#include <set>

#include "index/pack_lifecycle.h"
#include "pack/pack_writer.h"
#include "repo/index_sessions.h"
#include "util/bytes.h"
#include "util/clock.h"

namespace ckpt::internal {

namespace {

// A dead chunk entry of a pack that stays, compact.
struct DeadChunk {
  Digest digest;
  uint32_t pack;    // index into SweepPlan::partial_packs
  uint32_t length;  // stored bytes
  uint8_t depth;    // delta depth: deltas go before their bases
};

struct SweepPlan {
  std::vector<std::string> condemn;        // packs with nothing live
  std::vector<std::string> partial_packs;  // packs that stay, with dead entries
  std::vector<DeadChunk> dead;
};

struct IndexedPack {
  std::string id;
  PackRecord record;
};

Result<std::vector<IndexedPack>> IndexedPacks(Index& index) {
  std::vector<IndexedPack> packs;
  Status error;
  CKPT_RETURN_IF_ERROR(index.Scan(kPackKeys, [&](std::string_view k, std::string_view v) {
    IndexedPack p{PackIdOfKey(k), {}};
    error = DecodePackRecord(v, &p.record).WithContext("index record of pack " + p.id);
    packs.push_back(std::move(p));
    return error.ok();
  }));
  CKPT_RETURN_IF_ERROR(error);
  return packs;
}

// The dead chunk entries of `pack`, which holds live ones too: entries the
// index still points into it that no live checkpoint needs. Found from the
// pack's own index; from a scan of every chunk entry when that is
// unreadable (a damaged pack must not stop gc, and its dead entries must go
// all the same: a delta among them may rest on a base this sweep condemns).
Status FindDeadEntries(StoreContext& ctx, Index& index, const LiveSet& live,
                       const std::string& pack, SweepPlan* plan, SweepResult* result) {
  const uint32_t number = static_cast<uint32_t>(plan->partial_packs.size());
  bool any = false;
  auto add = [&](const Digest& digest, const ChunkLocation& loc) {
    plan->dead.push_back({digest, number, loc.length, loc.depth});
    result->chunks_removed++;
    result->bytes_unreferenced += loc.length;
    any = true;
  };
  std::vector<PackEntry> entries;
  uint64_t size;
  if (ReadPackIndex(*ctx.backend, pack, &entries, &size).ok()) {
    for (const PackEntry& e : entries) {
      if (e.kind != EntryKind::kChunk || live.ContainsChunk(e.digest)) continue;
      CKPT_ASSIGN_OR_RETURN(auto found, index.FindChunk(e.digest));
      if (found && found->pack_id == pack && found->offset == e.offset) add(e.digest, *found);
    }
  } else {
    Status error;
    CKPT_RETURN_IF_ERROR(index.Scan(kChunkKeys, [&](std::string_view k, std::string_view v) {
      ChunkLocation loc;
      error = DecodeChunkLocation(v, &loc).WithContext("gc sweep");
      if (!error.ok()) return false;
      Digest digest = Digest::FromView(k.substr(1));
      if (loc.pack_id == pack && !live.ContainsChunk(digest)) add(digest, loc);
      return true;
    }));
    CKPT_RETURN_IF_ERROR(error);
  }
  if (any) plan->partial_packs.push_back(pack);
  return Status::OK();
}

// The long part, on a snapshot and outside any lock: which packs have
// nothing live, and which dead entries the others hold.
Status PlanSweep(StoreContext& ctx, Index& index, const LiveSet& live, SweepResult* result,
                 SweepPlan* plan) {
  CKPT_ASSIGN_OR_RETURN(auto packs, IndexedPacks(index));
  for (const IndexedPack& p : packs) {
    auto it = live.pack_live_bytes.find(p.id);
    if (it == live.pack_live_bytes.end()) {
      plan->condemn.push_back(p.id);
      result->chunks_removed += p.record.entry_count;
      result->bytes_unreferenced += p.record.size;
      continue;
    }
    result->packs[p.id] = {it->second, p.record.size};
    auto entries = live.pack_live_entries.find(p.id);
    if (entries != live.pack_live_entries.end() && entries->second == p.record.entry_count)
      continue;  // every entry live: nothing to sweep, no need to read its index
    CKPT_RETURN_IF_ERROR(FindDeadEntries(ctx, index, live, p.id, plan, result));
  }
  return Status::OK();
}

// Marks checkpoints committed since `live` was; their chunks and manifest
// copies come back to life.
Status MarkNew(StoreContext& ctx, Index& index, LiveSet& live) {
  return MarkLive(ctx, index, &live);
}

// MarkNew on a fresh view, outside the lock, just before a session: the
// session's own MarkNew then finds only what was committed in between, and
// stays short however many checkpoints the mark phase did not see.
Status CatchUp(StoreContext& ctx, LiveSet& live) {
  CKPT_ASSIGN_OR_RETURN(auto view, OpenReader(ctx, LockPriority::kBackground));
  return MarkNew(ctx, *view, live);
}

void Undo(const DeadChunk& d, SweepResult* result) {
  result->chunks_removed--;
  result->bytes_unreferenced -= d.length;
}

// Deletes dead entries [begin, end) in one session; large sweeps take
// several, so that no session holds the lock for long.
Status DeleteDead(StoreContext& ctx, Index& index, LiveSet& live, SweepResult* result,
                  const SweepPlan& plan, size_t begin, size_t end) {
  CKPT_RETURN_IF_ERROR(MarkNew(ctx, index, live));
  IndexBatch batch;
  for (size_t i = begin; i < end; ++i) {
    const DeadChunk& d = plan.dead[i];
    if (live.ContainsChunk(d.digest)) {
      Undo(d, result);
      continue;
    }
    batch.Delete(ChunkKey(d.digest));
  }
  CKPT_RETURN_IF_ERROR(AddGcGenerationBump(index, &batch));
  return index.Commit(batch).WithContext("gc sweep");
}

// The condemning session: condemns the packs still with nothing live. One
// that a checkpoint committed since brought back to life stays, and loses
// its dead entries here, so that no delta left indexed in it outlives its
// base.
Status ApplySweep(StoreContext& ctx, Index& index, LiveSet& live, SweepResult* result,
                  SweepPlan* plan) {
  CKPT_RETURN_IF_ERROR(MarkNew(ctx, index, live));
  IndexBatch batch;
  // Condemned as of this commit, not of gc's start: the grace period
  // counts from when the index stopped pointing into the pack.
  const int64_t condemned_at = NowNs();
  SweepPlan revived;
  for (const std::string& pack : plan->condemn) {
    auto it = live.pack_live_bytes.find(pack);
    if (it == live.pack_live_bytes.end()) {
      CondemnPack(pack, condemned_at, &batch);
      continue;
    }
    CKPT_ASSIGN_OR_RETURN(auto record, index.Get(PackKey(pack)));
    PackRecord rec;
    if (record)
      CKPT_RETURN_IF_ERROR(DecodePackRecord(*record, &rec).WithContext("gc sweep: pack " + pack));
    result->chunks_removed -= rec.entry_count;
    result->bytes_unreferenced -= rec.size;
    result->packs[pack] = {it->second, rec.size};
    CKPT_RETURN_IF_ERROR(FindDeadEntries(ctx, index, live, pack, &revived, result));
  }
  for (const DeadChunk& d : revived.dead) batch.Delete(ChunkKey(d.digest));
  CKPT_RETURN_IF_ERROR(AddGcGenerationBump(index, &batch));
  return index.Commit(batch).WithContext("gc sweep");
}

}  // namespace

Result<SweepResult> CountDead(StoreContext& ctx, Index& snapshot, const LiveSet& live) {
  SweepResult result;
  SweepPlan plan;
  CKPT_RETURN_IF_ERROR(PlanSweep(ctx, snapshot, live, &result, &plan));
  return result;
}

Result<SweepResult> SweepIndex(StoreContext& ctx, Index& snapshot, LiveSet& live) {
  SweepResult result;
  SweepPlan plan;
  CKPT_RETURN_IF_ERROR(PlanSweep(ctx, snapshot, live, &result, &plan));
  // Every commit must leave each counted delta with its whole chain, which
  // saves rely on when they reuse an entry. So: first the dead deltas of
  // packs that stay, deepest first (their bases go later, or with their
  // pack); then the condemnation of whole packs, deltas and all; only then
  // the dead whole chunks of packs that stay, which a dead delta of a
  // condemned pack may have rested on until its pack went.
  std::stable_sort(plan.dead.begin(), plan.dead.end(),
                   [](const DeadChunk& a, const DeadChunk& b) { return a.depth > b.depth; });
  const size_t first_whole = std::find_if(plan.dead.begin(), plan.dead.end(),
                                          [](const DeadChunk& d) { return d.depth == 0; }) -
                             plan.dead.begin();
  auto delete_range = [&](size_t from, size_t to) -> Status {
    constexpr size_t kDeletesPerSession = 100000;
    for (size_t begin = from; begin < to; begin += kDeletesPerSession) {
      size_t end = std::min(to, begin + kDeletesPerSession);
      CKPT_RETURN_IF_ERROR(CatchUp(ctx, live));
      CKPT_ASSIGN_OR_RETURN(auto session, OpenWriter(ctx, LockPriority::kBackground,
                                                     /*background_compactions=*/true));
      CKPT_RETURN_IF_ERROR(DeleteDead(ctx, session.index(), live, &result, plan, begin, end));
      CKPT_RETURN_IF_ERROR(session.Close(Index::Housekeeping::kFlushOnly).WithContext("gc sweep"));
    }
    return Status::OK();
  };
  CKPT_RETURN_IF_ERROR(delete_range(0, first_whole));
  {
    CKPT_RETURN_IF_ERROR(CatchUp(ctx, live));
    CKPT_ASSIGN_OR_RETURN(
        auto session, OpenWriter(ctx, LockPriority::kBackground, /*background_compactions=*/true));
    CKPT_RETURN_IF_ERROR(ApplySweep(ctx, session.index(), live, &result, &plan));
    CKPT_RETURN_IF_ERROR(session.Close(Index::Housekeeping::kFlushOnly).WithContext("gc sweep"));
  }
  CKPT_RETURN_IF_ERROR(delete_range(first_whole, plan.dead.size()));
  return result;
}

}  // namespace ckpt::internal
