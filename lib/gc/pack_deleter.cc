#include "gc/pack_deleter.h"

#include <algorithm>
#include <mutex>

#include "pack/pack_writer.h"
#include "store/index_sessions.h"
#include "util/bytes.h"
#include "util/hex.h"

namespace ckpt::internal {
namespace {

constexpr int64_t kNsPerSecond = 1000000000;

// Tombstones exist so that repair skips deleted manifests; once the pack
// holding such a manifest is gone, its tombstone has nothing left to guard.
// Returns the ids whose tombstones may go once the pack file is deleted.
std::vector<Digest> DeadManifestsIn(StoreContext& ctx, Index& index, const std::string& pack) {
  std::vector<Digest> ids;
  std::vector<PackEntry> entries;
  uint64_t size;
  if (!ReadPackIndex(*ctx.backend, pack, &entries, &size).ok()) return ids;
  for (const auto& e : entries) {
    if (e.kind != EntryKind::kManifest) continue;
    auto record = index.Get(CheckpointKey(e.digest));
    if (record.ok() && !*record) ids.push_back(e.digest);
  }
  return ids;
}

Status DeletePackFile(StoreContext& ctx, Index& index, const std::string& pack,
                      DeleteResult* result) {
  const std::string name = PackObjectName(pack);
  auto size = ctx.backend->Size(name);
  std::vector<Digest> dead_manifests = DeadManifestsIn(ctx, index, pack);
  // The file first: a crash in between leaves a tombstone too many, never
  // a deleted checkpoint that repair could bring back.
  CKPT_RETURN_IF_ERROR(ctx.backend->Remove(name).WithContext("gc delete pack " + pack));
  for (const auto& id : dead_manifests) (void)ctx.backend->Remove(DeletedRefName(id.Hex()));
  result->packs_deleted++;
  if (size.ok()) result->bytes_deleted += *size;
  return Status::OK();
}

// Removes `names` with RemoveMany, split across the pool: unlinking a
// large cached file costs CPU, and the directory syncs overlap.
Status RemoveInParallel(StoreContext& ctx, const std::vector<std::string>& names) {
  const size_t parts = std::max<size_t>(1, std::min(names.size(), ctx.pool->size()));
  std::mutex mu;
  Status error;
  ctx.pool->ParallelFor(parts, [&](size_t part) {
    std::vector<std::string> mine;
    for (size_t i = part; i < names.size(); i += parts) mine.push_back(names[i]);
    Status s = ctx.backend->RemoveMany(mine);
    std::lock_guard<std::mutex> lock(mu);
    if (!s.ok() && error.ok()) error = s;
  });
  return error;
}

Status DeleteCondemned(StoreContext& ctx, Index& reader, int64_t grace_ns, int64_t now_ns,
                       DeleteResult* result) {
  std::vector<std::string> due;
  CKPT_RETURN_IF_ERROR(reader.Scan("D", [&](std::string_view k, std::string_view v) {
    int64_t at = v.size() == 8 ? static_cast<int64_t>(DecodeFixed64(v.data())) : 0;
    if (now_ns - at >= grace_ns) due.push_back(PackIdOfKey(k));
    else result->packs_pending++;
    return true;
  }));
  if (due.empty()) return Status::OK();
  // What each pack takes with it, read while the files still exist.
  std::vector<std::string> files(due.size());
  std::vector<std::vector<Digest>> manifests(due.size());
  std::vector<uint64_t> sizes(due.size(), 0);
  ctx.pool->ParallelFor(due.size(), [&](size_t i) {
    files[i] = PackObjectName(due[i]);
    auto size = ctx.backend->Size(files[i]);
    if (size.ok()) sizes[i] = *size;
    manifests[i] = DeadManifestsIn(ctx, reader, due[i]);
  });
  // Files first, all durable, then their tombstones: a crash in between
  // leaves tombstones too many, never a deleted checkpoint that repair
  // could bring back. A 'D' key left behind only makes the next gc remove
  // an already missing file, which is fine.
  CKPT_RETURN_IF_ERROR(RemoveInParallel(ctx, files).WithContext("gc delete packs"));
  std::vector<std::string> tombstones;
  for (size_t i = 0; i < due.size(); ++i) {
    result->packs_deleted++;
    result->bytes_deleted += sizes[i];
    for (const auto& id : manifests[i]) tombstones.push_back(DeletedRefName(id.Hex()));
  }
  (void)RemoveInParallel(ctx, tombstones);  // one too many is harmless
  IndexBatch batch;
  for (const auto& pack : due) batch.Delete(CondemnedKey(pack));
  CKPT_ASSIGN_OR_RETURN(auto session, OpenWriter(ctx, WriterPriority::kBackground));
  return session.index().Commit(batch);
}

Status DeleteOrphans(StoreContext& ctx, int64_t grace_ns, int64_t now_ns, DeleteResult* result) {
  CKPT_ASSIGN_OR_RETURN(auto names, ctx.backend->List("packs/"));
  // Opened after listing: a pack listed whose save has committed by now is
  // indexed in this view.
  CKPT_ASSIGN_OR_RETURN(auto index, OpenReader(ctx));
  for (const auto& name : names) {
    std::string pack = name.substr(name.rfind('/') + 1);
    if (pack.size() != 32 || !IsHex(pack)) continue;
    CKPT_ASSIGN_OR_RETURN(auto indexed, index->Get(PackKey(pack)));
    CKPT_ASSIGN_OR_RETURN(auto condemned, index->Get(CondemnedKey(pack)));
    if (indexed || condemned) continue;
    auto modified = ctx.backend->ModifiedTimeNs(name);
    if (!modified.ok() || now_ns - *modified < grace_ns) continue;  // maybe a save in flight
    CKPT_RETURN_IF_ERROR(DeletePackFile(ctx, *index, pack, result));
    result->orphans_deleted++;
  }
  return Status::OK();
}

}  // namespace

Result<DeleteResult> DeleteUnusedPacks(StoreContext& ctx, int64_t grace_seconds, int64_t now_ns) {
  DeleteResult result;
  const int64_t grace_ns = grace_seconds * kNsPerSecond;
  {
    CKPT_ASSIGN_OR_RETURN(auto reader, OpenReader(ctx));
    CKPT_RETURN_IF_ERROR(DeleteCondemned(ctx, *reader, grace_ns, now_ns, &result));
  }
  CKPT_RETURN_IF_ERROR(DeleteOrphans(ctx, grace_ns, now_ns, &result));
  return result;
}

}  // namespace ckpt::internal
