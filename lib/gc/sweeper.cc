#include "gc/sweeper.h"

#include <algorithm>
#include <chrono>
#include <map>
#include <set>

#include "store/index_sessions.h"
#include "util/bytes.h"

namespace ckpt::internal {

int64_t NowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

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

namespace {

// A dead chunk entry, compact: a sweep of a million dead chunks keeps a
// million of these in memory.
struct DeadChunk {
  Digest digest;
  uint32_t pack;    // index into DeadList::packs
  uint32_t length;  // stored bytes
  uint8_t depth;    // delta depth: deltas go before their bases
};

struct DeadList {
  std::vector<DeadChunk> chunks;
  std::vector<std::string> packs;
  std::map<std::string, uint32_t> pack_numbers;

  void Add(const Digest& d, const ChunkLocation& loc) {
    auto [it, added] = pack_numbers.emplace(loc.pack_id, static_cast<uint32_t>(packs.size()));
    if (added) packs.push_back(loc.pack_id);
    chunks.push_back({d, it->second, loc.length, loc.depth});
  }
};

// The long part, on a snapshot and outside any lock: which chunk entries
// are dead, and how full each pack is.
Status PlanSweep(Index& index, const LiveSet& live, SweepResult* result, DeadList* dead) {
  for (const auto& [id, loc] : live.manifests) result->packs[loc.pack_id].live_bytes += loc.length;
  Status error;
  CKPT_RETURN_IF_ERROR(index.Scan("C", [&](std::string_view k, std::string_view v) {
    ChunkLocation loc;
    error = DecodeChunkLocation(v, &loc);
    if (!error.ok()) return false;
    PackUsage& usage = result->packs[loc.pack_id];
    Digest digest = Digest::FromView(k.substr(1));
    if (live.ContainsChunk(digest)) {
      usage.live_bytes += loc.length;
      return true;
    }
    usage.dead_bytes += loc.length;
    result->chunks_removed++;
    result->bytes_unreferenced += loc.length;
    if (dead) dead->Add(digest, loc);
    return true;
  }));
  CKPT_RETURN_IF_ERROR(error);
  // Packs with no chunk entries left (e.g. holding only the manifest of a
  // deleted checkpoint) show up only here.
  return index.Scan("P", [&](std::string_view k, std::string_view v) {
    PackRecord record;
    if (DecodePackRecord(v, &record).ok()) result->packs[PackIdOfKey(k)].file_bytes = record.size;
    return true;
  });
}

// The short part, in a writer session: checkpoints committed since the
// snapshot bring their chunks back to life; the rest is deleted.
// Marks checkpoints committed since `live` was; their chunks and manifest
// copies come back to life.
Status MarkNew(Index& index, LiveSet& live, SweepResult* result) {
  std::set<Digest> before = live.checkpoints;
  CKPT_RETURN_IF_ERROR(MarkLive(index, &live));
  for (const auto& [id, loc] : live.manifests)
    if (!before.count(id)) result->packs[loc.pack_id].live_bytes += loc.length;
  return Status::OK();
}

// Deletes dead entries [begin, end) in one session; large sweeps take
// several, so that no session holds the lock for long.
Status DeleteDead(Index& index, LiveSet& live, SweepResult* result, const DeadList& dead,
                  size_t begin, size_t end) {
  CKPT_RETURN_IF_ERROR(MarkNew(index, live, result));
  IndexBatch batch;
  for (size_t i = begin; i < end; ++i) {
    const DeadChunk& d = dead.chunks[i];
    if (live.ContainsChunk(d.digest)) {
      PackUsage& usage = result->packs[dead.packs[d.pack]];
      usage.live_bytes += d.length;
      usage.dead_bytes -= d.length;
      result->chunks_removed--;
      result->bytes_unreferenced -= d.length;
      continue;
    }
    batch.Delete(ChunkKey(d.digest));
    if (d.depth > 0) batch.Delete(BaseKey(d.digest));
  }
  CKPT_ASSIGN_OR_RETURN(uint64_t generation, ReadGcGeneration(index));
  BumpGcGeneration(generation, &batch);
  return index.Commit(batch).WithContext("gc sweep");
}

// The last session: condemns the packs left with nothing live.
Status ApplySweep(Index& index, LiveSet& live, SweepResult* result) {
  CKPT_RETURN_IF_ERROR(MarkNew(index, live, result));
  IndexBatch batch;
  // Condemned as of this commit, not of gc's start: the grace period
  // counts from when the index stopped pointing into the pack.
  std::string condemned_at;
  PutFixed64(&condemned_at, static_cast<uint64_t>(NowNs()));
  for (auto it = result->packs.begin(); it != result->packs.end();) {
    if (it->second.live_bytes == 0) {
      batch.Delete(PackKey(it->first));
      batch.Put(CondemnedKey(it->first), condemned_at);
      it = result->packs.erase(it);
    } else {
      ++it;
    }
  }
  CKPT_ASSIGN_OR_RETURN(uint64_t generation, ReadGcGeneration(index));
  BumpGcGeneration(generation, &batch);
  return index.Commit(batch).WithContext("gc sweep");
}

}  // namespace

Result<SweepResult> CountDead(Index& snapshot, const LiveSet& live) {
  SweepResult result;
  CKPT_RETURN_IF_ERROR(PlanSweep(snapshot, live, &result, nullptr));
  return result;
}

Result<SweepResult> SweepIndex(StoreContext& ctx, Index& snapshot, LiveSet& live) {
  SweepResult result;
  DeadList dead;
  CKPT_RETURN_IF_ERROR(PlanSweep(snapshot, live, &result, &dead));
  // Deepest deltas first: a session boundary (or a crash) between two
  // deletes then never leaves an indexed chunk whose base is gone, which
  // saves rely on when they reuse an entry.
  std::stable_sort(dead.chunks.begin(), dead.chunks.end(),
                   [](const DeadChunk& a, const DeadChunk& b) { return a.depth > b.depth; });
  constexpr size_t kDeletesPerSession = 100000;
  for (size_t begin = 0; begin < dead.chunks.size(); begin += kDeletesPerSession) {
    size_t end = std::min(dead.chunks.size(), begin + kDeletesPerSession);
    CKPT_ASSIGN_OR_RETURN(auto session, OpenWriter(ctx, WriterPriority::kBackground));
    CKPT_RETURN_IF_ERROR(DeleteDead(session.index(), live, &result, dead, begin, end));
  }
  CKPT_ASSIGN_OR_RETURN(auto session, OpenWriter(ctx, WriterPriority::kBackground));
  CKPT_RETURN_IF_ERROR(ApplySweep(session.index(), live, &result));
  return result;
}

}  // namespace ckpt::internal
