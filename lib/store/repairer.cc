// store/repairer: rebuilds the index from packs and refs alone
// (invariant 5). Manifests found in packs come back unless a tombstone in
// refs/deleted/ says they were deleted; of two manifests for one RUN@STEP
// (a save retried after a crash) the later wall time wins.
#include <boost/filesystem.hpp>
#include <map>
#include <set>

#include "backend/local_backend.h"
#include "ckpt/s3.h"
#include "ckpt/version.h"
#include "codec/chunk_codec.h"
#include "codec/delta_codec.h"
#include "index/pack_lifecycle.h"
#include "index/store_lock.h"
#include "pack/pack_writer.h"
#include "repo/checkpoint_summary.h"
#include "repo/config.h"
#include "repo/policy_codec.h"
#include "repo/ref_resolver.h"
#include "repo/store_context.h"
#include "util/clock.h"
#include "util/hex.h"

namespace fs = boost::filesystem;

namespace ckpt {
namespace internal {

Result<std::shared_ptr<Backend>> OpenBackend(const StoreOptions& options, const std::string& path);
Status OpenObjectStore(const StoreOptions& options, StoreContext* ctx);

namespace {

struct FoundManifest {
  Digest id;
  ChunkLocation location;
  Manifest manifest;
  std::string bytes;
};

class Rebuild {
 public:
  Rebuild(Backend& backend, Index& index) : backend_(backend), index_(index) {}
  Result<RepairReport> Run();

 private:
  Status ScanPack(const std::string& pack_id);
  Status IndexDeltas();
  // Depth of the chain under delta chunk `d`, or -1 if a link is missing or
  // the chain is longer than any store allows.
  int DeltaDepth(const Digest& d, int hops);
  Status ReadManifest(const std::string& pack_id, const PackEntry& e);
  bool Complete(const Manifest& m) const;
  void ChooseManifests();
  Status CommitCheckpoints();
  Status RestoreTags();
  Status RestorePolicies();
  Status Flush(bool force);

  Backend& backend_;
  Index& index_;
  RepairReport report_;
  IndexBatch batch_;
  size_t batched_ = 0;
  std::set<std::string> deleted_;
  std::vector<FoundManifest> candidates_;  // every manifest found, before choosing
  std::map<std::pair<std::string, uint64_t>, FoundManifest> manifests_;
  std::map<Digest, uint32_t> chunk_lengths_;  // encoded length per indexed chunk
  // Delta entries, indexed once every pack is scanned: their chains may
  // run through packs not read yet. A whole copy of a chunk wins over a delta.
  std::map<Digest, ChunkLocation> deltas_;
  std::map<Digest, int> delta_depths_;
  std::set<std::string> restored_;
};

Status Rebuild::Flush(bool force) {
  if (batched_ == 0 || (!force && batched_ < 10000)) return Status::OK();
  CKPT_RETURN_IF_ERROR(index_.Commit(batch_));
  batch_.Clear();
  batched_ = 0;
  return Status::OK();
}

Status Rebuild::ReadManifest(const std::string& pack_id, const PackEntry& e) {
  std::string encoded, raw(e.raw_length, '\0');
  CKPT_RETURN_IF_ERROR(ReadPackBytes(backend_, pack_id, e.offset, e.length, &encoded));
  CKPT_RETURN_IF_ERROR(DecodeChunk(static_cast<Codec>(e.codec), encoded.data(), encoded.size(),
                                   raw.data(), raw.size()));
  if (Sha256(raw.data(), raw.size()) != e.digest)
    return Status::Corruption("manifest hash mismatch");
  FoundManifest found{
      e.digest, {pack_id, e.offset, e.length, e.raw_length, e.codec, {}, 0}, {}, raw};
  CKPT_RETURN_IF_ERROR(DecodeManifest(raw, &found.manifest));
  if (deleted_.count(e.digest.Hex())) return Status::OK();
  candidates_.push_back(std::move(found));
  return Status::OK();
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
  for (const auto& e : entries) {
    if (e.kind == EntryKind::kManifest) {
      if (!ReadManifest(pack_id, e).ok()) report_.manifests_unreadable++;
      continue;
    }
    ChunkLocation loc{pack_id, e.offset, e.length, e.raw_length, e.codec, {}, 0};
    if (IsDeltaCodec(e.codec)) {
      std::string head;
      if (e.length < kDeltaHeaderSize ||
          !ReadPackBytes(backend_, pack_id, e.offset, kDeltaHeaderSize, &head).ok() ||
          !DeltaBaseOf(head, &loc.base).ok()) {
        report_.chunks_unrecoverable++;
        continue;
      }
      deltas_.emplace(e.digest, loc);
      continue;
    }
    batch_.Put(ChunkKey(e.digest), EncodeChunkLocation(loc));
    chunk_lengths_[e.digest] = e.length;
    report_.chunks_indexed++;
    ++batched_;
  }
  batch_.Put(PackKey(pack_id), EncodePackRecord({size, entries.size()}));
  ++batched_;
  return Flush(false);
}

int Rebuild::DeltaDepth(const Digest& d, int hops) {
  if (hops > kMaxDeltaDepth) return -1;
  auto known = delta_depths_.find(d);
  if (known != delta_depths_.end()) return known->second;
  auto it = deltas_.find(d);
  int depth;
  if (it == deltas_.end()) {
    depth = chunk_lengths_.count(d) ? 0 : -1;  // whole, or missing
  } else if (chunk_lengths_.count(d)) {
    depth = 0;
  } else {
    int below = DeltaDepth(it->second.base, hops + 1);
    depth = below < 0 || below + 1 > kMaxDeltaDepth ? -1 : below + 1;
  }
  delta_depths_[d] = depth;
  return depth;
}

Status Rebuild::IndexDeltas() {
  for (auto& [digest, loc] : deltas_) {
    if (chunk_lengths_.count(digest)) continue;  // a whole copy is indexed
    int depth = DeltaDepth(digest, 0);
    if (depth <= 0) {
      report_.chunks_unrecoverable++;  // its base is gone: manifests needing it stay out
      continue;
    }
    loc.depth = static_cast<uint8_t>(depth);
    batch_.Put(ChunkKey(digest), EncodeChunkLocation(loc));
    report_.chunks_indexed++;
    ++batched_;
    CKPT_RETURN_IF_ERROR(Flush(false));
  }
  for (auto& [digest, loc] : deltas_)
    if (delta_depths_[digest] > 0) chunk_lengths_[digest] = loc.length;
  deltas_.clear();
  return Flush(true);
}

bool Rebuild::Complete(const Manifest& m) const {
  for (const auto& e : m.entries)
    for (const auto& d : e.chunks)
      if (!chunk_lengths_.count(d)) return false;
  return true;
}

void Rebuild::ChooseManifests() {
  // Only complete manifests compete; a save retried after a crash has the
  // later wall time and wins its RUN@STEP.
  for (auto& found : candidates_) {
    if (!Complete(found.manifest)) continue;
    auto key = std::make_pair(found.manifest.run, found.manifest.step);
    auto it = manifests_.find(key);
    if (it == manifests_.end() || it->second.manifest.wall_time_ns < found.manifest.wall_time_ns)
      manifests_[key] = std::move(found);
  }
  candidates_.clear();
}

Status Rebuild::CommitCheckpoints() {
  ChooseManifests();
  std::vector<const FoundManifest*> order;
  for (const auto& [key, found] : manifests_) order.push_back(&found);
  std::sort(order.begin(), order.end(),
            [](auto* a, auto* b) { return a->manifest.wall_time_ns < b->manifest.wall_time_ns; });
  std::set<Digest> seen;
  for (const FoundManifest* f : order) {
    CheckpointRecord rec;
    rec.manifest = f->bytes;
    rec.manifest_location = f->location;
    uint64_t logical = 0;
    for (const auto& e : f->manifest.entries) {
      logical += e.byte_length;
      for (size_t i = 0; i < e.chunks.size(); ++i) {
        if (!seen.insert(e.chunks[i]).second) continue;
        rec.new_bytes += chunk_lengths_.at(e.chunks[i]);
        uint64_t span = f->manifest.SpanOf(e);
        rec.new_raw_bytes += std::min(span, e.byte_length - i * span);
      }
    }
    rec.shared_bytes = logical - rec.new_raw_bytes;
    PutCheckpointRecord(&batch_, f->id, rec, f->manifest);
    batch_.Put(RunStepKey(f->manifest.run, f->manifest.step), f->id.View());
    restored_.insert(f->id.Hex());
    report_.checkpoints_restored++;
    ++batched_;
    CKPT_RETURN_IF_ERROR(Flush(false));
  }
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
// repair of this host's copy is to discard it and replay the log (which
// the open does). Rebuilding from packs would also index what the log never
// committed, such as the packs of a save that lost a race for its RUN@STEP.
Result<RepairReport> RepairIndexCache(const StoreOptions& options, const std::string& url) {
  StoreContext ctx;
  ctx.location = url;
  ctx.options = options;
  CKPT_RETURN_IF_ERROR(OpenObjectStore(options, &ctx));
  {
    const auto timeout = std::chrono::milliseconds(options.lock_timeout_ms);
    CKPT_ASSIGN_OR_RETURN(auto gc_lock, StoreLock::Acquire(ctx.path, true, timeout, "gc.lock"));
    CKPT_ASSIGN_OR_RETURN(auto lock, StoreLock::Acquire(ctx.path, true, timeout));
    boost::system::error_code ec;
    fs::remove_all(ctx.index_dir(), ec);
    if (ec) return ErrnoStatus(ec.value(), "repair: remove index cache", ctx.index_dir());
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
