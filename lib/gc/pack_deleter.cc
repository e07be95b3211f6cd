#include "gc/pack_deleter.h"

#include "pack/pack_writer.h"
#include "util/bytes.h"
#include "util/hex.h"

namespace ckpt::internal {
namespace {

constexpr int64_t kNsPerSecond = 1000000000;

// Tombstones exist so that repair skips deleted manifests; once the pack
// holding such a manifest is gone, its tombstone has nothing left to guard.
void DropTombstones(StoreContext& ctx, const std::string& pack) {
  std::vector<PackEntry> entries;
  uint64_t size;
  if (!ReadPackIndex(*ctx.backend, pack, &entries, &size).ok()) return;
  for (const auto& e : entries) {
    if (e.kind != EntryKind::kManifest) continue;
    auto record = ctx.index->Get(CheckpointKey(e.digest));
    if (record.ok() && !*record) (void)ctx.backend->Remove(DeletedRefName(e.digest.Hex()));
  }
}

Status DeletePackFile(StoreContext& ctx, const std::string& pack, DeleteResult* result) {
  const std::string name = PackObjectName(pack);
  auto size = ctx.backend->Size(name);
  DropTombstones(ctx, pack);
  CKPT_RETURN_IF_ERROR(ctx.backend->Remove(name).WithContext("gc delete pack " + pack));
  result->packs_deleted++;
  if (size.ok()) result->bytes_deleted += *size;
  return Status::OK();
}

Status DeleteCondemned(StoreContext& ctx, int64_t grace_ns, int64_t now_ns, DeleteResult* result) {
  std::vector<std::string> due;
  CKPT_RETURN_IF_ERROR(ctx.index->Scan("D", [&](std::string_view k, std::string_view v) {
    int64_t at = v.size() == 8 ? static_cast<int64_t>(DecodeFixed64(v.data())) : 0;
    if (now_ns - at >= grace_ns) due.push_back(PackIdOfKey(k));
    else result->packs_pending++;
    return true;
  }));
  for (const auto& pack : due) {
    CKPT_RETURN_IF_ERROR(DeletePackFile(ctx, pack, result));
    IndexBatch batch;
    batch.Delete(CondemnedKey(pack));
    CKPT_RETURN_IF_ERROR(ctx.index->Commit(batch));
  }
  return Status::OK();
}

Status DeleteOrphans(StoreContext& ctx, int64_t grace_ns, int64_t now_ns, DeleteResult* result) {
  CKPT_ASSIGN_OR_RETURN(auto names, ctx.backend->List("packs/"));
  for (const auto& name : names) {
    std::string pack = name.substr(name.rfind('/') + 1);
    if (pack.size() != 32 || !IsHex(pack)) continue;
    CKPT_ASSIGN_OR_RETURN(auto indexed, ctx.index->Get(PackKey(pack)));
    CKPT_ASSIGN_OR_RETURN(auto condemned, ctx.index->Get(CondemnedKey(pack)));
    if (indexed || condemned) continue;
    auto modified = ctx.backend->ModifiedTimeNs(name);
    if (!modified.ok() || now_ns - *modified < grace_ns) continue;  // maybe a save in flight
    CKPT_RETURN_IF_ERROR(DeletePackFile(ctx, pack, result));
    result->orphans_deleted++;
  }
  return Status::OK();
}

}  // namespace

Result<DeleteResult> DeleteUnusedPacks(StoreContext& ctx, int64_t grace_seconds, int64_t now_ns) {
  DeleteResult result;
  const int64_t grace_ns = grace_seconds * kNsPerSecond;
  CKPT_RETURN_IF_ERROR(DeleteCondemned(ctx, grace_ns, now_ns, &result));
  CKPT_RETURN_IF_ERROR(DeleteOrphans(ctx, grace_ns, now_ns, &result));
  return result;
}

}  // namespace ckpt::internal
