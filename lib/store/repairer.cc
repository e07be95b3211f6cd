// store/repairer: rebuilds the index from packs and refs alone
// (invariant 5). Manifests found in packs come back unless a tombstone in
// refs/deleted/ says they were deleted; of two manifests for one RUN@STEP
// (a save retried after a crash) the later wall time wins.
#include <algorithm>
#include <boost/filesystem.hpp>
#include <map>
#include <set>

#include "backend/local_backend.h"
#include "ckpt/s3.h"
#include "ckpt/version.h"
#include "codec/chunk_codec.h"
#include "codec/delta_codec.h"
#include "index/index_keys.h"
#include "index/pack_lifecycle.h"
#include "index/store_lock.h"
#include "pack/pack_writer.h"
#include "repo/checkpoint_summary.h"
#include "repo/config.h"
#include "repo/index_log.h"
#include "repo/policy_codec.h"
#include "repo/ref_resolver.h"
#include "repo/store_context.h"
#include "store/repair_chunks.h"
#include "util/clock.h"
#include "util/hex.h"

namespace fs = boost::filesystem;

namespace ckpt {
namespace internal {

Result<std::shared_ptr<Backend>> OpenBackend(const StoreOptions& options, const std::string& path);
Status OpenObjectStore(const StoreOptions& options, StoreContext* ctx);

namespace {

// A manifest found in a pack; its bytes are read again when needed, so
// that only one is held at a time.
struct Candidate {
  Digest id;
  uint32_t pack = 0;  // number in the chunk table
  uint64_t offset = 0;
  uint32_t length = 0;
  uint32_t raw_length = 0;
  uint8_t codec = 0;
  std::string run;
  uint64_t step = 0;
  int64_t wall_time_ns = 0;
};

class Rebuild {
 public:
  Rebuild(Backend& backend, Index& index) : backend_(backend), index_(index) {}
  Result<RepairReport> Run();

 private:
  Status ScanPack(const std::string& pack_id);
  void AddDelta(const std::string& pack_id, const PackEntry& e);
  Status IndexDeltas();
  // Reads, checks and decodes a manifest entry; `raw` gets its bytes.
  Status LoadManifest(const std::string& pack_id, const PackEntry& e, std::string* raw,
                      Manifest* m);
  Status LoadManifest(const Candidate& c, std::string* raw, Manifest* m);
  Status AddCandidate(const std::string& pack_id, const PackEntry& e);
  bool Complete(const Manifest& m) const;
  Status ChooseManifests();
  Status CommitCheckpoint(const Candidate& c);
  Status CommitCheckpoints();
  Status RestoreTags();
  Status RestorePolicies();
  Status Flush(bool force);

  Backend& backend_;
  Index& index_;
  RepairReport report_;
  IndexBatch batch_;
  size_t batched_ = 0;
  // A checkpoint's record holds its manifest (64 KB for 2000 chunks): the
  // batch is bounded by their bytes too, or it would hold every one.
  static constexpr size_t kFlushManifestBytes = 16 << 20;
  size_t batched_manifest_bytes_ = 0;
  std::set<std::string> deleted_;
  RepairChunks chunks_;
  uint32_t pack_ = 0;                  // number of the pack being scanned
  std::vector<Candidate> candidates_;  // every manifest found, before choosing
  // The chosen candidate of each RUN@STEP.
  std::map<std::pair<std::string, uint64_t>, size_t> manifests_;
  std::set<std::string> restored_;
};

Status Rebuild::Flush(bool force) {
  if (batched_ == 0 ||
      (!force && batched_ < 10000 && batched_manifest_bytes_ < kFlushManifestBytes))
    return Status::OK();
  CKPT_RETURN_IF_ERROR(index_.Commit(batch_));
  batch_.Clear();
  batched_ = 0;
  batched_manifest_bytes_ = 0;
  return Status::OK();
}

Status Rebuild::LoadManifest(const std::string& pack_id, const PackEntry& e, std::string* raw,
                             Manifest* m) {
  std::string encoded;
  raw->assign(e.raw_length, '\0');
  CKPT_RETURN_IF_ERROR(ReadPackBytes(backend_, pack_id, e.offset, e.length, &encoded));
  CKPT_RETURN_IF_ERROR(DecodeChunk(static_cast<Codec>(e.codec), encoded.data(), encoded.size(),
                                   raw->data(), raw->size()));
  if (Sha256(raw->data(), raw->size()) != e.digest)
    return Status::Corruption("manifest hash mismatch");
  return DecodeManifest(*raw, m);
}

Status Rebuild::LoadManifest(const Candidate& c, std::string* raw, Manifest* m) {
  PackEntry e;
  e.kind = EntryKind::kManifest;
  e.codec = c.codec;
  e.digest = c.id;
  e.offset = c.offset;
  e.length = c.length;
  e.raw_length = c.raw_length;
  const std::string& pack_id = chunks_.pack_id(c.pack);
  // It was read whole during the scan, under the locks that keep gc away.
  return LoadManifest(pack_id, e, raw, m)
      .WithContext("repair: manifest " + c.id.ShortHex() + " in pack " + pack_id);
}

Status Rebuild::AddCandidate(const std::string& pack_id, const PackEntry& e) {
  std::string raw;
  Manifest m;
  CKPT_RETURN_IF_ERROR(LoadManifest(pack_id, e, &raw, &m));
  if (deleted_.count(e.digest.Hex())) return Status::OK();
  candidates_.push_back({e.digest, pack_, e.offset, e.length, e.raw_length, e.codec,
                         std::move(m.run), m.step, m.wall_time_ns});
  return Status::OK();
}

void Rebuild::AddDelta(const std::string& pack_id, const PackEntry& e) {
  std::string head;
  Digest base;
  if (e.length < kDeltaHeaderSize ||
      !ReadPackBytes(backend_, pack_id, e.offset, kDeltaHeaderSize, &head).ok() ||
      !DeltaBaseOf(head, &base).ok()) {
    report_.chunks_unrecoverable++;
    return;
  }
  chunks_.AddDelta(e, base);
}

Status Rebuild::ScanPack(const std::string& pack_id) {
  std::vector<PackEntry> entries;
  uint64_t size = 0;
  Status s = ReadPackIndex(backend_, pack_id, &entries, &size);
  if (!s.ok()) {
    report_.packs_unreadable++;  // a torn pack of a save that never committed
    return Status::OK();
  }
  report_.packs_scanned++;
  pack_ = chunks_.AddPack(pack_id);
  for (const auto& e : entries) {
    if (e.kind == EntryKind::kManifest) {
      if (!AddCandidate(pack_id, e).ok()) report_.manifests_unreadable++;
    } else if (IsDeltaCodec(e.codec)) {
      // Indexed once every pack is scanned: its chain may run through
      // packs not read yet.
      AddDelta(pack_id, e);
    } else {
      ChunkLocation loc{pack_id, e.offset, e.length, e.raw_length, e.codec, {}, 0};
      batch_.Put(ChunkKey(e.digest), EncodeChunkLocation(loc));
      chunks_.AddWhole(e);
      report_.chunks_indexed++;
      ++batched_;
    }
  }
  batch_.Put(PackKey(pack_id), EncodePackRecord({size, entries.size()}));
  ++batched_;
  return Flush(false);
}

Status Rebuild::IndexDeltas() {
  chunks_.Finish();
  CKPT_ASSIGN_OR_RETURN(uint64_t unrecoverable,
                        chunks_.IndexDeltas([this](const Digest& d, const ChunkLocation& loc) {
                          batch_.Put(ChunkKey(d), EncodeChunkLocation(loc));
                          report_.chunks_indexed++;
                          ++batched_;
                          return Flush(false);
                        }));
  report_.chunks_unrecoverable += unrecoverable;
  return Flush(true);
}

bool Rebuild::Complete(const Manifest& m) const {
  for (const auto& e : m.entries)
    for (const auto& d : e.chunks)
      if (!chunks_.Readable(d)) return false;
  return true;
}

Status Rebuild::ChooseManifests() {
  // Only complete manifests compete; a save retried after a crash has the
  // later wall time and wins its RUN@STEP. One that cannot win is not read.
  std::string raw;
  for (size_t i = 0; i < candidates_.size(); ++i) {
    const Candidate& c = candidates_[i];
    auto key = std::make_pair(c.run, c.step);
    auto it = manifests_.find(key);
    if (it != manifests_.end() && candidates_[it->second].wall_time_ns >= c.wall_time_ns) continue;
    Manifest m;
    CKPT_RETURN_IF_ERROR(LoadManifest(c, &raw, &m));
    if (Complete(m)) manifests_[key] = i;
  }
  return Status::OK();
}

Status Rebuild::CommitCheckpoint(const Candidate& c) {
  CheckpointRecord rec;
  Manifest m;
  CKPT_RETURN_IF_ERROR(LoadManifest(c, &rec.manifest, &m));
  rec.manifest_location = {
      chunks_.pack_id(c.pack), c.offset, c.length, c.raw_length, c.codec, {}, 0};
  uint64_t logical = 0;
  for (const auto& e : m.entries) {
    logical += e.byte_length;
    for (size_t i = 0; i < e.chunks.size(); ++i) {
      uint32_t length = 0;
      if (!chunks_.MarkSeen(e.chunks[i], &length)) continue;
      rec.new_bytes += length;
      uint64_t span = m.SpanOf(e);
      rec.new_raw_bytes += std::min(span, e.byte_length - i * span);
    }
  }
  rec.shared_bytes = logical - rec.new_raw_bytes;
  PutCheckpointRecord(&batch_, c.id, rec, m);
  batch_.Put(RunStepKey(m.run, m.step), c.id.View());
  restored_.insert(c.id.Hex());
  report_.checkpoints_restored++;
  ++batched_;
  batched_manifest_bytes_ += rec.manifest.size();
  return Flush(false);
}

Status Rebuild::CommitCheckpoints() {
  CKPT_RETURN_IF_ERROR(ChooseManifests());
  std::vector<const Candidate*> order;
  for (const auto& [key, i] : manifests_) order.push_back(&candidates_[i]);
  std::sort(order.begin(), order.end(),
            [](auto* a, auto* b) { return a->wall_time_ns < b->wall_time_ns; });
  for (const Candidate* c : order) CKPT_RETURN_IF_ERROR(CommitCheckpoint(*c));
  return Flush(true);
}

Status Rebuild::RestoreTags() {
  CKPT_ASSIGN_OR_RETURN(auto names, backend_.List("refs/tags/"));
  for (const auto& name : names) {
    std::string tag = name.substr(std::string("refs/tags/").size());
    CKPT_ASSIGN_OR_RETURN(std::string hex, backend_.GetWhole(name));
    Digest id;
    if (!IsValidName(tag) || !Digest::FromHex(hex, &id) || !restored_.count(hex)) continue;
    batch_.Put(TagKey(tag), id.View());
    report_.tags_restored++;
    ++batched_;
  }
  return Flush(true);
}

Status Rebuild::RestorePolicies() {
  CKPT_ASSIGN_OR_RETURN(auto names, backend_.List("refs/policies/"));
  for (const auto& name : names) {
    std::string run = name.substr(std::string("refs/policies/").size());
    if (run == "=default")
      run.clear();
    else if (!IsValidName(run))
      continue;
    CKPT_ASSIGN_OR_RETURN(std::string encoded, backend_.GetWhole(name));
    RetentionPolicy policy;
    if (!DecodePolicy(encoded, &policy).ok()) continue;
    batch_.Put(PolicyKey(run), encoded);
    ++batched_;
  }
  return Flush(true);
}

Result<RepairReport> Rebuild::Run() {
  CKPT_ASSIGN_OR_RETURN(auto tombstones, backend_.List("refs/deleted/"));
  for (const auto& t : tombstones) deleted_.insert(t.substr(std::string("refs/deleted/").size()));
  CKPT_ASSIGN_OR_RETURN(auto packs, backend_.List("packs/"));
  for (const auto& name : packs) {
    std::string id = name.substr(name.rfind('/') + 1);
    if (id.size() != 32 || !IsHex(id)) continue;
    CKPT_RETURN_IF_ERROR(ScanPack(id));
  }
  CKPT_RETURN_IF_ERROR(Flush(true));
  CKPT_RETURN_IF_ERROR(IndexDeltas());
  CKPT_RETURN_IF_ERROR(CommitCheckpoints());
  CKPT_RETURN_IF_ERROR(RestoreTags());
  CKPT_RETURN_IF_ERROR(RestorePolicies());
  // A save that began before the repair compares gc generations at its
  // commit; a value never used before makes it re-check its chunks.
  BumpGcGeneration(static_cast<uint64_t>(NowNs()), &batch_);
  ++batched_;
  CKPT_RETURN_IF_ERROR(Flush(true));
  return report_;
}

Status RenameDir(const std::string& from, const std::string& to) {
  boost::system::error_code ec;
  fs::rename(from, to, ec);
  if (ec) return ErrnoStatus(ec.value(), "rename " + from + " to", to);
  return Status::OK();
}

}  // namespace
}  // namespace internal

namespace internal {
namespace {

// A store in object storage: the bucket's index log is the truth, so the
// repair of this host's copy is to discard it and replay the whole log,
// not from a snapshot of the index: a snapshot is another host's copy, and
// the damage repair is for may be in it. Rebuilding from packs would also
// index what the log never committed, such as the packs of a save that
// lost a race for its RUN@STEP.
Result<RepairReport> RepairIndexCache(const StoreOptions& options, const std::string& url) {
  StoreContext ctx;
  ctx.location = url;
  ctx.options = options;
  CKPT_RETURN_IF_ERROR(OpenObjectStore(options, &ctx));
  StoreOptions existing = options;
  existing.create_if_missing = false;
  CKPT_ASSIGN_OR_RETURN(ctx.config, LoadOrCreateConfig(*ctx.backend, existing, url));
  {
    const auto timeout = std::chrono::milliseconds(options.lock_timeout_ms);
    CKPT_ASSIGN_OR_RETURN(auto gc_lock, StoreLock::Acquire(ctx.path, true, timeout, "gc.lock"));
    CKPT_ASSIGN_OR_RETURN(auto lock, StoreLock::Acquire(ctx.path, true, timeout));
    boost::system::error_code ec;
    fs::remove_all(ctx.index_dir(), ec);
    if (ec) return ErrnoStatus(ec.value(), "repair: remove index cache", ctx.index_dir());
    CKPT_ASSIGN_OR_RETURN(auto index, Index::Open(ctx.index_dir(), true, false, false));
    IndexBatch batch;
    batch.Put(kCacheStoreIdKey, ctx.config.store_id);
    CKPT_RETURN_IF_ERROR(index->Commit(batch));
    CKPT_RETURN_IF_ERROR(CatchUpFromLog(ctx, *index, /*from_snapshot=*/false)
                             .WithContext("repair: replay the index log of " + url));
  }
  StoreOptions open = options;
  open.create_if_missing = false;
  open.read_only = false;
  CKPT_ASSIGN_OR_RETURN(auto store, Store::Open(open, url));
  RepairReport report;
  CKPT_ASSIGN_OR_RETURN(auto runs, store->ListRuns());
  for (const auto& run : runs) {
    CKPT_ASSIGN_OR_RETURN(auto checkpoints, store->ListCheckpoints(run.name));
    for (const auto& c : checkpoints) {
      ++report.checkpoints_restored;
      report.tags_restored += c.tags.size();
    }
  }
  return report;
}

}  // namespace
}  // namespace internal

Result<RepairReport> Store::Repair(const StoreOptions& options, const std::string& path) {
  using namespace internal;
  if (IsS3Url(path)) return RepairIndexCache(options, path);
  StoreOptions open = options;
  open.create_if_missing = false;
  open.read_only = false;
  CKPT_ASSIGN_OR_RETURN(auto backend, OpenBackend(open, path));
  CKPT_RETURN_IF_ERROR(LoadOrCreateConfig(*backend, open, path).status());  // format check
  const std::string index_dir = IndexDirOf(path), fresh = path + "/index.repair",
                    old = path + "/index.old";
  boost::system::error_code ec;
  // The store lock, held to the end: no writer can commit into an index
  // that is about to be replaced, and no reader opens it half-swapped.
  const auto timeout = std::chrono::milliseconds(options.lock_timeout_ms);
  // gc.lock too: a gc deletes pack files outside index sessions.
  CKPT_ASSIGN_OR_RETURN(auto gc_lock, StoreLock::Acquire(path, true, timeout, "gc.lock"));
  CKPT_ASSIGN_OR_RETURN(auto lock, StoreLock::Acquire(path, true, timeout));
  // Leftovers of a repair that crashed: the rebuild must start empty.
  for (const std::string& dir : {fresh, old}) {
    fs::remove_all(dir, ec);
    if (ec) return ErrnoStatus(ec.value(), "repair: remove leftover", dir);
  }
  RepairReport report;
  {
    CKPT_ASSIGN_OR_RETURN(auto index, Index::Open(fresh, true, false));
    Rebuild rebuild(*backend, *index);
    CKPT_ASSIGN_OR_RETURN(report, rebuild.Run());
  }
  if (fs::exists(index_dir, ec)) CKPT_RETURN_IF_ERROR(RenameDir(index_dir, old));
  CKPT_RETURN_IF_ERROR(RenameDir(fresh, index_dir));
  CKPT_RETURN_IF_ERROR(SyncDirectory(path));
  fs::remove_all(old, ec);
  return report;
}

}  // namespace ckpt
