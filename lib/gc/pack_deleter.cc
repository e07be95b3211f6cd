#include "gc/pack_deleter.h"

#include <algorithm>
#include <mutex>
#include <unordered_set>

#include "pack/pack_writer.h"
#include "repo/index_sessions.h"
#include "repo/staged_shards.h"
#include "util/bytes.h"
#include "util/clock.h"
#include "util/hex.h"

namespace ckpt::internal {
namespace {

// Tombstones exist so that repair skips deleted manifests; once the pack
// holding such a manifest is gone, its tombstone has nothing left to guard.
// Returns the ids whose tombstones may go once the pack file is deleted.
// An error leaves ids out: a tombstone kept too long guards nothing and
// costs nothing, one removed too early could let repair revive a deletion.
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

// Removes `names` with RemoveManyUnsynced on several threads: an unlink
// of a large file mostly waits (the file system frees its blocks and the
// kernel its cached pages), so more unlinks in flight than cores pays.
Status RemoveInParallel(StoreContext& ctx, const std::vector<std::string>& names) {
  constexpr size_t kUnlinkThreads = 8;
  std::mutex mu;
  Status error;
  ForEachOnThreads(names.size(), kUnlinkThreads, [&](size_t i) {
    Status s = ctx.backend->RemoveManyUnsynced({names[i]});
    std::lock_guard<std::mutex> lock(mu);
    if (!s.ok() && error.ok()) error = s;
  });
  return error;
}

std::string EncodeIds(const std::vector<Digest>& ids) {
  std::string out;
  for (const auto& id : ids) out.append(id.View());
  return out;
}

// The tombstones of manifests in packs deleted by an earlier gc: once the
// deletion of the pack file is durable (RemoveMany confirms it), nothing
// can bring those manifests back, and the tombstones go.
Status RetireTombstones(StoreContext& ctx, Index& reader) {
  std::vector<std::string> keys, files, tombstones;
  std::vector<std::string> values;
  {
    CKPT_RETURN_IF_ERROR(reader.Scan(kGoneKeys, [&](std::string_view k, std::string_view v) {
      if (v.empty()) return true;
      keys.emplace_back(k);
      values.emplace_back(v);
      files.push_back(PackObjectName(PackIdOfKey(k)));
      for (size_t i = 0; i + Digest::kSize <= v.size(); i += Digest::kSize)
        tombstones.push_back(DeletedRefName(Digest::FromView(v.substr(i, Digest::kSize)).Hex()));
      return true;
    }));
  }
  if (keys.empty()) return Status::OK();
  CKPT_RETURN_IF_ERROR(ctx.backend->RemoveMany(files).WithContext("gc confirm deleted packs"));
  (void)ctx.backend->RemoveManyUnsynced(tombstones);  // one too many is harmless
  CKPT_ASSIGN_OR_RETURN(
      auto session, OpenWriter(ctx, LockPriority::kBackground, /*background_compactions=*/true));
  IndexBatch batch;
  for (const auto& key : keys) batch.Put(key, "");
  CKPT_RETURN_IF_ERROR(session.index().Commit(batch).WithContext("gc confirm deleted packs"));
  return session.Close(Index::Housekeeping::kFlushOnly).WithContext("gc confirm deleted packs");
}

// Packs condemned longer ago than the grace period: the index forgets them
// first ('D' becomes 'G', listing the manifests whose tombstones they
// guard), then the files go, unsynced. A crash in between, or one that
// undoes an unlink, leaves a file with a 'G' key, which the next gc deletes
// again (see DeleteOrphans).
Status DeleteCondemned(StoreContext& ctx, Index& reader, int64_t grace_ns, int64_t now_ns,
                       PackUnlinker* unlinker, DeleteResult* result) {
  std::vector<std::string> due;
  CKPT_RETURN_IF_ERROR(reader.Scan(kCondemnedKeys, [&](std::string_view k, std::string_view v) {
    int64_t at = v.size() == 8 ? static_cast<int64_t>(DecodeFixed64(v.data())) : 0;
    if (now_ns - at >= grace_ns)
      due.push_back(PackIdOfKey(k));
    else
      result->packs_pending++;
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
  {
    IndexBatch batch;
    for (size_t i = 0; i < due.size(); ++i) {
      batch.Delete(CondemnedKey(due[i]));
      batch.Put(GoneKey(due[i]), EncodeIds(manifests[i]));
    }
    CKPT_ASSIGN_OR_RETURN(
        auto session, OpenWriter(ctx, LockPriority::kBackground, /*background_compactions=*/true));
    CKPT_RETURN_IF_ERROR(session.index().Commit(batch).WithContext("gc delete packs"));
    CKPT_RETURN_IF_ERROR(
        session.Close(Index::Housekeeping::kFlushOnly).WithContext("gc delete packs"));
  }
  unlinker->Start(std::move(files));
  for (size_t i = 0; i < due.size(); ++i) {
    result->packs_deleted++;
    result->bytes_deleted += sizes[i];
  }
  return Status::OK();
}

Status DeleteOrphans(StoreContext& ctx, int64_t grace_ns, int64_t now_ns,
                     const PackUnlinker& unlinker, DeleteResult* result) {
  // Packs of shards staged in the bucket are named by no index key until
  // their checkpoint completes. Read before the packs are listed: a shard
  // staged after this has packs younger than the grace period.
  std::unordered_set<std::string> staged_packs;
  if (ctx.shared_index) {
    CKPT_ASSIGN_OR_RETURN(auto staged, ReadAllStagedShards(ctx));
    for (const StagedShard& s : staged)
      for (const auto& [id, record] : s.packs) staged_packs.insert(id);
  }
  CKPT_ASSIGN_OR_RETURN(auto names, ctx.backend->List("packs/"));
  // Then the packs of this process's saves in flight, then the view: a
  // pack listed whose save has committed by now is indexed in the view, or
  // still in flight (repo/in_flight_packs.h).
  const auto in_flight = ctx.in_flight_packs.Snapshot();
  CKPT_ASSIGN_OR_RETURN(auto index, OpenReader(ctx, LockPriority::kBackground));
  for (const auto& name : names) {
    if (unlinker.Started(name)) continue;  // going already
    std::string pack = name.substr(name.rfind('/') + 1);
    if (pack.size() != 32 || !IsHex(pack) || in_flight.count(pack) || staged_packs.count(pack))
      continue;
    CKPT_ASSIGN_OR_RETURN(auto indexed, index->Get(PackKey(pack)));
    CKPT_ASSIGN_OR_RETURN(auto condemned, index->Get(CondemnedKey(pack)));
    if (indexed || condemned) continue;
    CKPT_ASSIGN_OR_RETURN(auto gone, index->Get(GoneKey(pack)));
    if (gone) {  // deleted once already: a crash brought it back
      CKPT_RETURN_IF_ERROR(ctx.backend->Remove(name).WithContext("gc delete pack " + pack));
      continue;
    }
    auto modified = ctx.backend->ModifiedTimeNs(name);
    if (!modified.ok() || now_ns - *modified < grace_ns) continue;  // maybe a save in flight
    CKPT_RETURN_IF_ERROR(DeletePackFile(ctx, *index, pack, result));
    result->orphans_deleted++;
  }
  return Status::OK();
}

}  // namespace

void PackUnlinker::Start(std::vector<std::string> names) {
  if (names.empty()) return;
  {
    std::lock_guard<std::mutex> lock(mu_);
    started_.insert(names.begin(), names.end());
  }
  auto unlink = [this, names = std::move(names)] {
    Status s = RemoveInParallel(ctx_, names).WithContext("gc delete packs");
    std::lock_guard<std::mutex> lock(mu_);
    if (!s.ok() && error_.ok()) error_ = s;
  };
  try {
    std::lock_guard<std::mutex> lock(mu_);
    threads_.emplace_back(unlink);
  } catch (const std::system_error&) {
    unlink();  // no thread to spare: unlink now
  }
}

bool PackUnlinker::Started(const std::string& name) const {
  std::lock_guard<std::mutex> lock(mu_);
  return started_.count(name) > 0;
}

Status PackUnlinker::Wait() {
  std::vector<std::thread> threads;
  {
    std::lock_guard<std::mutex> lock(mu_);
    threads.swap(threads_);
  }
  for (auto& t : threads) t.join();
  std::lock_guard<std::mutex> lock(mu_);
  return error_;
}

Status DeleteDuePacks(StoreContext& ctx, int64_t grace_seconds, int64_t now_ns,
                      bool confirm_earlier, PackUnlinker* unlinker, DeleteResult* result) {
  // One view for both: each open of a view holds the store lock shared for
  // a moment, which a saver waiting to commit has to wait out.
  CKPT_ASSIGN_OR_RETURN(auto reader, OpenReader(ctx, LockPriority::kBackground));
  if (confirm_earlier) CKPT_RETURN_IF_ERROR(RetireTombstones(ctx, *reader));
  return DeleteCondemned(ctx, *reader, grace_seconds * kNsPerSecond, now_ns, unlinker, result);
}

Status DeleteLeftovers(StoreContext& ctx, int64_t grace_seconds, int64_t now_ns,
                       const PackUnlinker& unlinker, DeleteResult* result) {
  const int64_t grace_ns = grace_seconds * kNsPerSecond;
  CKPT_RETURN_IF_ERROR(DeleteOrphans(ctx, grace_ns, now_ns, unlinker, result));
  // Partial files of Puts a crash cut short (packs, refs): never indexed,
  // never listed, so nothing above finds them. Not those of this process's
  // saves in flight, whatever the grace: their Puts began after their packs
  // were listed in flight, and file times may lag the clock by a tick.
  constexpr int64_t kClockSlackNs = kNsPerSecond;
  const int64_t written_before =
      std::min(now_ns - grace_ns, ctx.in_flight_packs.OldestAddedNs(NowNs()) - kClockSlackNs);
  CKPT_ASSIGN_OR_RETURN(auto abandoned, ctx.backend->RemoveAbandonedWrites("", written_before));
  result->abandoned_deleted += abandoned.objects;
  result->abandoned_bytes_deleted += abandoned.bytes;
  return Status::OK();
}

}  // namespace ckpt::internal
