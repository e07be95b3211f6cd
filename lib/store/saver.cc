#include "store/saver.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <unordered_map>
#include <unordered_set>

#include "chunk/chunker.h"
#include "codec/chunk_codec.h"
#include "codec/delta_codec.h"
#include "codec/plane_coder.h"
#include "index/pack_lifecycle.h"
#include "repo/checkpoint_summary.h"
#include "repo/config.h"
#include "repo/index_sessions.h"
#include "repo/pack_sink.h"
#include "repo/pending_shards.h"
#include "repo/ref_resolver.h"
#include "repo/staged_shards.h"
#include "store/delta_base.h"
#include "store/save_validation.h"
#include "store/staged_commit.h"
#include "util/clock.h"

namespace ckpt::internal {
namespace {

struct Source {
  ManifestEntry* entry;
  const uint8_t* data;
  bool unchanged_hint = false;
  // The same tensor in the parent checkpoint (same name, kind, dtype and
  // length, so its chunks line up), if any: the candidate bases of deltas.
  const ManifestEntry* parent = nullptr;
};

// Per tensor: how often a delta beat the plain encoding and vice versa.
// Once one side has won every trial, the other is no longer tried, so most
// chunks are compressed once.
struct EncodingScore {
  std::atomic<uint32_t> delta_wins{0};
  std::atomic<uint32_t> plain_wins{0};
  PlaneScore plain_planes, delta_planes;  // which coder wins on each plane
  bool PlainWorthTrying() const { return !(delta_wins >= 2 && plain_wins == 0); }
  bool DeltaWorthTrying() const { return !(plain_wins >= 2 && delta_wins == 0); }
};

struct ChunkJob {
  size_t source;
  size_t index;
  size_t pos = 0;  // in SaveRun::jobs_
};

// State shared by the workers of one save.
class SaveRun {
 public:
  // `reader` is the index view the save began with; it answers "is this
  // chunk stored already?" during the save.
  SaveRun(StoreContext& ctx, Index& reader, const SaveOptions& options)
      : ctx_(ctx),
        reader_(reader),
        options_(options),
        sink_(*ctx.backend, ctx.options.pack_target_size, &ctx.in_flight_packs) {}

  Status Run(Manifest* manifest, const SaveRequest& request,
             const std::optional<ResolvedCheckpoint>& parent);
  Result<CheckpointInfo> Commit(Manifest& manifest);
  // Records this save as shard `rank` of a sharded checkpoint, and commits
  // the checkpoint if it is the last shard to come.
  Result<CheckpointInfo> CommitShard(const Manifest& shard, uint32_t rank);
  // The same in object storage: stores the shard as an object of its own
  // (repo/staged_shards.h) and completes the checkpoint if every rank's is
  // there, so that no rank replays the records of the others.
  Result<CheckpointInfo> StageShard(const Manifest& shard, uint32_t rank);
  // `writer` is the commit's session.
  Status RestoreCollectedChunks(Index& writer);

 private:
  void ProcessChunk(const ChunkJob& job);
  // Stores chunk `job` unless `dedup` (if given) has it; then sets *reused.
  // With `allow_delta`, tries a delta against the parent's chunk.
  Status StoreChunk(const Digest& digest, const uint8_t* data, uint64_t length, const ChunkJob& job,
                    Index* dedup, bool allow_delta, bool* reused);
  // Encodes a new chunk: plain, or as a delta when that is smaller.
  Codec Encode(const uint8_t* data, uint64_t length, const ChunkJob& job, bool allow_delta,
               const EncodeParams& params, std::string* out, DeltaBase* base);
  Status MatchParent(const Manifest& parent);
  // Encodes c->manifest as c->record.manifest, sets c->id, and stores a
  // copy in a pack (for repair), durable with every pack of the save.
  Status StoreManifest(ResolvedCheckpoint* c);
  // Adds this save's chunk and pack entries to `batch`.
  void AddChunksAndPacks(IndexBatch* batch) const;
  // Commits `batch` with c's checkpoint and run keys, unless run@step was
  // committed meanwhile; on failure marks c's manifest deleted for repair.
  Status CommitCheckpoint(Index& writer, const ResolvedCheckpoint& c, IndexBatch& batch);
  // Writes the tombstone of `c`, whose manifest is durable in a pack but
  // which was never committed, so that repair does not revive it.
  void MarkNeverCommitted(const ResolvedCheckpoint& c);
  // Sets the record's new, new raw and shared byte counts from new_chunks_.
  void CountNewBytes(CheckpointRecord* record) const;
  // This save's shard record: its manifest and byte counts.
  ShardRecord OwnShardRecord(const Manifest& shard) const;
  // Merges the staged shards of run@step and commits the checkpoint.
  // `own`: this rank's shard, to tell whether a checkpoint that another
  // rank committed first is the one it belongs to.
  Result<CheckpointInfo> CompleteStaged(const ShardManifest& own);
  Status CheckHints() const;
  // Forgets new chunks that another save has indexed since this one looked;
  // true if there were any.
  Result<bool> DropChunksStoredMeanwhile(Index& writer);
  PlanesChoice PlanesFor(size_t source, const uint8_t* data, uint64_t length,
                         const EncodeParams& params);
  void Fail(Status s);
  void Progress(uint64_t bytes);

  // In object storage: hashes every chunk first, then reads the bases of
  // the new ones ahead (BaseReadAhead), so that ProcessChunk finds them
  // fetched in ranges.
  void ReadBasesAhead();

  StoreContext& ctx_;
  Index& reader_;
  const SaveOptions& options_;
  PackSink sink_;
  std::unique_ptr<BaseReadAhead> ahead_;  // with the digests in the entries already
  std::vector<Source> sources_;
  std::vector<ChunkJob> jobs_;
  // Per source: 0 undecided, else a PlanesChoice, decided on its first chunk.
  std::unique_ptr<std::atomic<uint8_t>[]> planes_;
  std::unique_ptr<EncodingScore[]> scores_;
  uint64_t logical_bytes_ = 0;

  std::mutex mu_;
  std::unordered_set<Digest, DigestHash> claimed_;
  std::unordered_map<Digest, ChunkLocation, DigestHash> new_chunks_;
  std::vector<ChunkJob> reused_;  // chunks found already stored
  // Jobs of the chunks stored as deltas, to store whole again if a
  // concurrent gc reclaimed their base.
  std::unordered_map<Digest, ChunkJob, DigestHash> delta_jobs_;
  uint64_t gc_generation_ = 0;  // when the save began
  Status first_error_;
  std::atomic<bool> failed_{false};
  std::atomic<uint64_t> done_bytes_{0};
  std::mutex progress_mu_;
};

void SaveRun::Fail(Status s) {
  std::lock_guard<std::mutex> lock(mu_);
  if (first_error_.ok()) first_error_ = std::move(s);
  failed_ = true;
}

void SaveRun::Progress(uint64_t bytes) {
  uint64_t done = done_bytes_ += bytes;
  if (!options_.progress) return;
  std::lock_guard<std::mutex> lock(progress_mu_);
  options_.progress(done, logical_bytes_);
}

PlanesChoice SaveRun::PlanesFor(size_t source, const uint8_t* data, uint64_t length,
                                const EncodeParams& params) {
  uint8_t decided = planes_[source].load();
  if (decided != 0) return static_cast<PlanesChoice>(decided);
  // One trial per tensor: its chunks share a distribution.
  PlanesChoice choice = PlanesHelp(data, length, params) ? PlanesChoice::kUse : PlanesChoice::kSkip;
  planes_[source].store(static_cast<uint8_t>(choice));
  return choice;
}

// A delta must be at least 1/kDeltaMinSavingDivisor smaller than the plain
// encoding: every load of a delta chunk also reads and decodes its base, so
// a delta saving less costs loads more than it saves. On the fine-tune
// benchmark series a tenth cost 0.5% more stored bytes and made an export of
// checkpoint 6 from uncached packs 8% faster (see docs/design.md, "Delta chunks").
constexpr size_t kDeltaMinSavingDivisor = 10;

Codec SaveRun::Encode(const uint8_t* data, uint64_t length, const ChunkJob& job, bool allow_delta,
                      const EncodeParams& params, std::string* out, DeltaBase* base) {
  const Source& src = sources_[job.source];
  EncodingScore& score = scores_[job.source];
  bool try_delta = allow_delta && src.parent && job.index < src.parent->chunks.size() &&
                   score.DeltaWorthTrying();
  if (try_delta) {
    PrereadSet preread;
    if (ahead_) ahead_->Fetch(job.pos, &preread);
    try_delta = FindDeltaBase(ctx_, reader_, src.parent->chunks[job.index], length, base, &preread);
  }
  EncodeParams plain_params = params, delta_params = params;
  plain_params.plane_score = &score.plain_planes;
  delta_params.plane_score = &score.delta_planes;
  if (!try_delta) return EncodeChunk(data, length, plain_params, out);
  thread_local std::string plain;
  Codec plain_codec = Codec::kRaw;
  const bool plain_tried = score.PlainWorthTrying();
  size_t limit = length;  // a delta must at least beat storing the bytes raw
  if (plain_tried) {
    plain_codec = EncodeChunk(data, length, plain_params, &plain);
    limit = plain.size() - plain.size() / kDeltaMinSavingDivisor;
  }
  Codec codec = EncodeDelta(data, base->bytes, base->digest, length, delta_params, limit, out);
  if (codec != Codec::kRaw) {
    score.delta_wins++;
    return codec;
  }
  score.plain_wins++;
  if (plain_tried) {  // even when it came out raw: never compress a chunk twice
    out->swap(plain);
    return plain_codec;
  }
  return EncodeChunk(data, length, plain_params, out);
}

Status SaveRun::StoreChunk(const Digest& digest, const uint8_t* data, uint64_t length,
                           const ChunkJob& job, Index* dedup, bool allow_delta, bool* reused) {
  if (dedup) {
    CKPT_ASSIGN_OR_RETURN(auto existing, dedup->FindChunk(digest));
    if (existing) {
      *reused = true;  // stored by an earlier save: costs nothing more
      return Status::OK();
    }
  }
  const ManifestEntry& entry = *sources_[job.source].entry;
  EncodeParams params;
  params.elem_size = entry.is_blob ? 1 : DTypeSize(entry.dtype);
  params.is_float = !entry.is_blob && DTypeIsFloat(entry.dtype);
  params.zstd_level = ctx_.config.zstd_level;
  if (params.is_float) params.planes = PlanesFor(job.source, data, length, params);
  thread_local std::string encoded;  // reused: no page faults per chunk
  DeltaBase base;
  Codec codec = Encode(data, length, job, allow_delta, params, &encoded, &base);
  ChunkLocation loc;
  CKPT_RETURN_IF_ERROR(sink_.Add(EntryKind::kChunk, static_cast<uint8_t>(codec), digest, encoded,
                                 static_cast<uint32_t>(length), &loc));
  std::lock_guard<std::mutex> lock(mu_);
  if (IsDeltaCodec(loc.codec)) {
    loc.base = base.digest;
    loc.depth = static_cast<uint8_t>(base.depth + 1);
    delta_jobs_.insert_or_assign(digest, job);
  }
  new_chunks_.insert_or_assign(digest, loc);
  return Status::OK();
}

void SaveRun::ProcessChunk(const ChunkJob& job) {
  if (failed_) return;
  const Source& src = sources_[job.source];
  ManifestEntry& entry = *src.entry;
  uint64_t span = ChunkSpan(ctx_.config.chunk_size, entry.is_blob ? 1 : DTypeSize(entry.dtype));
  uint64_t length = ChunkLength(entry.byte_length, span, job.index);
  const uint8_t* data = src.data + job.index * span;
  if (!ahead_) entry.chunks[job.index] = Sha256(data, length);
  const Digest digest = entry.chunks[job.index];
  bool first;
  {
    std::lock_guard<std::mutex> lock(mu_);
    first = claimed_.insert(digest).second;
  }
  if (first) {
    bool reused = false;
    Status s = StoreChunk(digest, data, length, job, &reader_, true, &reused);
    if (reused) {
      std::lock_guard<std::mutex> lock(mu_);
      reused_.push_back(job);
    }
    if (!s.ok())
      Fail(s.WithContext("chunk " + std::to_string(job.index) + " of '" + entry.name + "' (" +
                         digest.ShortHex() + ")"));
  }
  if (ahead_) ahead_->Done(job.pos);
  Progress(length);
}

void SaveRun::ReadBasesAhead() {
  ctx_.pool->ParallelFor(jobs_.size(), [this](size_t i) {
    const ChunkJob& job = jobs_[i];
    const Source& src = sources_[job.source];
    ManifestEntry& entry = *src.entry;
    const uint64_t span =
        ChunkSpan(ctx_.config.chunk_size, entry.is_blob ? 1 : DTypeSize(entry.dtype));
    entry.chunks[job.index] =
        Sha256(src.data + job.index * span, ChunkLength(entry.byte_length, span, job.index));
  });
  // Only the bases of chunks not stored yet: a range read for a base
  // wastes what it holds beside it.
  std::vector<std::optional<std::pair<Digest, uint64_t>>> candidates(jobs_.size());
  for (size_t i = 0; i < jobs_.size(); ++i) {
    const ChunkJob& job = jobs_[i];
    const Source& src = sources_[job.source];
    const ManifestEntry& entry = *src.entry;
    if (!src.parent || job.index >= src.parent->chunks.size()) continue;
    auto stored = reader_.FindChunk(entry.chunks[job.index]);
    if (!stored.ok() || *stored) continue;
    const uint64_t span =
        ChunkSpan(ctx_.config.chunk_size, entry.is_blob ? 1 : DTypeSize(entry.dtype));
    const uint64_t length = ChunkLength(entry.byte_length, span, job.index);
    auto base = PickDeltaBase(ctx_, reader_, src.parent->chunks[job.index], length);
    if (base) candidates[i] = {{base->digest, length}};
  }
  ahead_ = std::make_unique<BaseReadAhead>(ctx_, reader_, candidates);
}

// What makes an entry "the same tensor" as one of the parent: its name, and
// in a sharded checkpoint its owner rank and its place in the global tensor.
std::string IdentityOf(const ManifestEntry& e) {
  std::string key = e.name;
  key += '\0' + std::to_string(e.local_rank);
  for (int64_t o : e.offsets) key += ',' + std::to_string(o);
  return key;
}

Status SaveRun::MatchParent(const Manifest& parent) {
  std::unordered_map<std::string, const ManifestEntry*> by_name;
  for (const auto& e : parent.entries) by_name.emplace(IdentityOf(e), &e);
  for (Source& src : sources_) {
    const ManifestEntry& e = *src.entry;
    auto it = by_name.find(IdentityOf(e));
    const ManifestEntry* p = it == by_name.end() ? nullptr : it->second;
    if (p && p->is_blob == e.is_blob && p->dtype == e.dtype && p->byte_length == e.byte_length &&
        parent.chunk_size == ctx_.config.chunk_size)
      src.parent = p;
    if (src.unchanged_hint && (!src.parent || src.parent->shape != e.shape))
      return Status::InvalidArgument("tensor '" + e.name +
                                     "' is marked unchanged_since_parent, but the parent " +
                                     "checkpoint has no tensor of that name, dtype and shape");
  }
  return Status::OK();
}

Status SaveRun::CheckHints() const {
  for (const Source& src : sources_)
    if (src.unchanged_hint && src.entry->chunks != src.parent->chunks)
      return Status::InvalidArgument("tensor '" + src.entry->name +
                                     "' is marked unchanged_since_parent but has changed");
  return Status::OK();
}

Status SaveRun::Run(Manifest* manifest, const SaveRequest& request,
                    const std::optional<ResolvedCheckpoint>& parent) {
  manifest->entries.reserve(request.tensors.size() + request.blobs.size());
  const auto local = [&](bool rank_local) {
    return rank_local ? static_cast<int32_t>(request.rank) : -1;
  };
  for (const auto& t : request.tensors) {
    ManifestEntry e{t.name, false, t.dtype, t.shape, t.size, {}};
    // A piece that is the whole tensor is the tensor: stored as such, it is
    // one entry however many ranks save it.
    const bool whole =
        t.offsets == std::vector<int64_t>(t.shape.size(), 0) && t.global_shape == t.shape;
    if (!t.global_shape.empty() && !whole) {
      e.global_shape = t.global_shape;
      e.offsets = t.offsets;
    }
    e.local_rank = local(t.rank_local);
    e.writer = request.rank;
    manifest->entries.push_back(std::move(e));
    sources_.push_back({nullptr, static_cast<const uint8_t*>(t.data), t.unchanged_since_parent});
  }
  for (const auto& b : request.blobs) {
    ManifestEntry e{b.name, true, DType::kU8, {static_cast<int64_t>(b.size)}, b.size, {}};
    e.local_rank = local(b.rank_local);
    e.writer = request.rank;
    manifest->entries.push_back(std::move(e));
    sources_.push_back({nullptr, static_cast<const uint8_t*>(b.data)});
  }
  planes_ = std::make_unique<std::atomic<uint8_t>[]>(sources_.size());
  scores_ = std::make_unique<EncodingScore[]>(sources_.size());
  for (size_t i = 0; i < sources_.size(); ++i) sources_[i].entry = &manifest->entries[i];
  if (parent) {
    CKPT_RETURN_IF_ERROR(MatchParent(parent->manifest));
  } else {
    for (const Source& src : sources_)
      if (src.unchanged_hint)
        return Status::InvalidArgument("tensor '" + src.entry->name +
                                       "' is marked unchanged_since_parent, but the save " +
                                       "has no parent checkpoint");
  }
  uint64_t hinted_bytes = 0;
  for (size_t i = 0; i < sources_.size(); ++i) {
    ManifestEntry& e = manifest->entries[i];
    uint64_t count = ChunkCount(e.byte_length, manifest->SpanOf(e));
    logical_bytes_ += e.byte_length;
    if (sources_[i].unchanged_hint && !options_.check_unchanged_hints) {
      // Taken on trust: the parent's chunks, neither read nor hashed.
      e.chunks = sources_[i].parent->chunks;
      for (uint64_t c = 0; c < count; ++c) reused_.push_back({i, c});
      hinted_bytes += e.byte_length;
      continue;
    }
    e.chunks.resize(count);
    for (uint64_t c = 0; c < count; ++c) jobs_.push_back({i, c});
  }
  CKPT_ASSIGN_OR_RETURN(gc_generation_, ReadGcGeneration(reader_));
  if (hinted_bytes) Progress(hinted_bytes);
  for (size_t i = 0; i < jobs_.size(); ++i) jobs_[i].pos = i;
  const bool any_parent =
      std::any_of(sources_.begin(), sources_.end(), [](const Source& s) { return s.parent; });
  if (ctx_.shared_index && any_parent && ctx_.config.delta_max_depth > 0) ReadBasesAhead();
  ctx_.pool->ParallelFor(jobs_.size(), [this](size_t i) { ProcessChunk(jobs_[i]); });
  if (failed_) return first_error_;
  if (options_.check_unchanged_hints) CKPT_RETURN_IF_ERROR(CheckHints());
  return Status::OK();
}

// Their entries stay as they are: an index entry is only ever replaced
// when its pack is no longer indexed (see index/dead_pack_filter.h). Our
// copies become unreferenced bytes in our packs, for gc to reclaim.
Result<bool> SaveRun::DropChunksStoredMeanwhile(Index& writer) {
  bool dropped = false;
  for (auto it = new_chunks_.begin(); it != new_chunks_.end();) {
    CKPT_ASSIGN_OR_RETURN(auto existing, writer.FindChunk(it->first));
    if (!existing) {
      ++it;
      continue;
    }
    delta_jobs_.erase(it->first);
    it = new_chunks_.erase(it);
    dropped = true;
  }
  return dropped;
}

Status SaveRun::RestoreCollectedChunks(Index& writer) {
  CKPT_ASSIGN_OR_RETURN(bool dropped, DropChunksStoredMeanwhile(writer));
  CKPT_ASSIGN_OR_RETURN(uint64_t generation, ReadGcGeneration(writer));
  // Nothing to restore unless a gc swept since we looked, or one of our
  // deltas may now rest on another save's copy of its base.
  if (generation == gc_generation_ && !dropped) return Status::OK();
  auto rewrite = [&](const Digest& digest, const ChunkJob& job) -> Status {
    const Source& src = sources_[job.source];
    const ManifestEntry& entry = *src.entry;
    if (!src.data)
      return Status::Aborted("tensor '" + entry.name + "' was declared unchanged and a " +
                             "concurrent gc reclaimed its parent's chunks; save it again");
    uint64_t span = ChunkSpan(ctx_.config.chunk_size, entry.is_blob ? 1 : DTypeSize(entry.dtype));
    uint64_t length = ChunkLength(entry.byte_length, span, job.index);
    const uint8_t* data = src.data + job.index * span;
    // Bytes taken on trust were never hashed: a wrong hint must not store
    // them under the parent's digest.
    if (src.unchanged_hint && Sha256(data, length) != digest)
      return Status::InvalidArgument("tensor '" + entry.name +
                                     "' is marked unchanged_since_parent but has changed");
    bool reused = false;
    CKPT_RETURN_IF_ERROR(StoreChunk(digest, data, length, job, nullptr, false, &reused));
    ctx_.chunks_rewritten_after_gc++;
    return Status::OK();
  };
  // A gc swept since this save found these chunks stored; any it reclaimed
  // are written again from the caller's bytes, which are still ours. gc
  // deletes a delta before its base, so an entry still present has its
  // whole chain.
  for (const ChunkJob& job : reused_) {
    const Digest& digest = sources_[job.source].entry->chunks[job.index];
    CKPT_ASSIGN_OR_RETURN(auto present, writer.FindChunk(digest));
    if (present || new_chunks_.count(digest)) continue;
    CKPT_RETURN_IF_ERROR(rewrite(digest, job));
  }
  // Deltas whose base went are stored whole. A base still there may have
  // a shorter chain than when this save read it (repair prefers whole
  // copies); the depth follows it.
  for (const auto& [digest, job] : delta_jobs_) {
    ChunkLocation& loc = new_chunks_.at(digest);
    if (!loc.is_delta() || new_chunks_.count(loc.base)) continue;
    auto base = writer.FindChunk(loc.base);
    if (!base.ok() || !*base || (*base)->depth + 1 > ctx_.config.delta_max_depth) {
      CKPT_RETURN_IF_ERROR(rewrite(digest, job));
      continue;
    }
    loc.depth = static_cast<uint8_t>((*base)->depth + 1);
  }
  return sink_.Flush();
}

void SaveRun::CountNewBytes(CheckpointRecord* record) const {
  record->new_bytes = record->new_raw_bytes = 0;
  for (const auto& [digest, loc] : new_chunks_) {
    record->new_bytes += loc.length;
    record->new_raw_bytes += loc.raw_length;
  }
  record->shared_bytes = logical_bytes_ - record->new_raw_bytes;
}

Status SaveRun::StoreManifest(ResolvedCheckpoint* c) {
  c->record.manifest = EncodeManifest(c->manifest);
  c->id = Sha256(c->record.manifest.data(), c->record.manifest.size());
  std::string encoded;
  Codec codec = EncodeChunk(c->record.manifest.data(), c->record.manifest.size(), {}, &encoded);
  CKPT_RETURN_IF_ERROR(sink_.Add(EntryKind::kManifest, static_cast<uint8_t>(codec), c->id, encoded,
                                 static_cast<uint32_t>(c->record.manifest.size()),
                                 &c->record.manifest_location));
  return sink_.Flush();  // every pack durable before the commit
}

void SaveRun::AddChunksAndPacks(IndexBatch* batch) const {
  for (const auto& [digest, loc] : new_chunks_)
    batch->Put(ChunkKey(digest), EncodeChunkLocation(loc));
  for (const auto& [id, record] : sink_.sealed()) batch->Put(PackKey(id), EncodePackRecord(record));
}

Status SaveRun::CommitCheckpoint(Index& writer, const ResolvedCheckpoint& c, IndexBatch& batch) {
  const std::string run_key = RunStepKey(c.manifest.run, c.manifest.step);
  const std::string tombstone = DeletedRefName(c.id.Hex());
  PutCheckpointRecord(&batch, c.id, c.record, c.manifest);
  batch.Put(run_key, c.id.View());
  // An identical checkpoint deleted earlier (same content, step and wall
  // time) must not stay marked deleted once saved again.
  if (ctx_.backend->Size(tombstone).ok()) CKPT_RETURN_IF_ERROR(ctx_.backend->Remove(tombstone));
  auto existing = writer.Get(run_key);
  Status s = !existing.ok() ? existing.status()
             : *existing    ? Status::AlreadyExists(c.Label() + " was saved concurrently")
                            : writer.Commit(batch);
  if (!s.ok()) MarkNeverCommitted(c);
  return s;
}

void SaveRun::MarkNeverCommitted(const ResolvedCheckpoint& c) {
  // Best effort: gc reclaims the manifest's pack either way.
  const std::string hex = c.id.Hex();
  (void)ctx_.backend->Put(DeletedRefName(hex), hex.data(), hex.size());
}

Result<CheckpointInfo> SaveRun::Commit(Manifest& manifest) {
  ResolvedCheckpoint c;
  c.manifest = manifest;
  CountNewBytes(&c.record);
  CKPT_RETURN_IF_ERROR(StoreManifest(&c));
  CKPT_ASSIGN_OR_RETURN(auto session, OpenWriter(ctx_));
  Index& writer = session.index();
  CKPT_RETURN_IF_ERROR(RestoreCollectedChunks(writer));
  CountNewBytes(&c.record);  // chunks written again count as they are stored now
  IndexBatch batch;
  AddChunksAndPacks(&batch);
  CKPT_RETURN_IF_ERROR(CommitCheckpoint(writer, c, batch));
  CKPT_RETURN_IF_ERROR(
      session.Close().WithContext(c.Label() + " is committed, but closing the index failed"));
  return MakeInfo(c, {});
}

// What a rank learns when its shard is saved but `missing` others are not.
CheckpointInfo ShardSavedInfo(const Manifest& shard, const ShardRecord& own, uint32_t missing) {
  CheckpointInfo info;
  info.run = shard.run;
  info.step = shard.step;
  info.world_size = shard.world_size;
  info.new_bytes = own.new_bytes;
  info.new_raw_bytes = own.new_raw_bytes;
  info.shared_bytes = own.shared_bytes;
  info.shards_missing = missing;
  return info;
}

ShardRecord SaveRun::OwnShardRecord(const Manifest& shard) const {
  ShardRecord own;
  own.recorded_at_ns = NowNs();
  CheckpointRecord counts;
  CountNewBytes(&counts);
  own.new_bytes = counts.new_bytes;
  own.new_raw_bytes = counts.new_raw_bytes;
  own.shared_bytes = counts.shared_bytes;
  own.manifest = EncodeManifest(shard);
  return own;
}

Result<CheckpointInfo> SaveRun::StageShard(const Manifest& shard, uint32_t rank) {
  const std::string label = shard.run + "@" + std::to_string(shard.step);
  CKPT_RETURN_IF_ERROR(sink_.Flush());  // the shard's chunks durable before it is staged
  {
    // Found chunks that a gc collected since are stored again, while this
    // rank still has their bytes; the completing rank checks once more.
    CKPT_ASSIGN_OR_RETURN(auto view, OpenReader(ctx_));
    CKPT_RETURN_IF_ERROR(RestoreCollectedChunks(*view));
    CKPT_ASSIGN_OR_RETURN(auto existing, view->Get(RunStepKey(shard.run, shard.step)));
    if (existing) return Status::AlreadyExists(label + " was saved concurrently");
  }
  const ShardRecord own = OwnShardRecord(shard);
  IndexBatch entries;
  AddChunksAndPacks(&entries);
  CKPT_ASSIGN_OR_RETURN(auto bytes, EncodeStagedShard(shard.run, shard.step, rank, own, entries));
  const std::string name = StagedShardName(shard.run, shard.step, shard.world_size, rank);
  CKPT_RETURN_IF_ERROR(ctx_.backend->Put(name, bytes.data(), bytes.size())
                           .WithContext("stage shard " + std::to_string(rank) + " of " + label));
  CKPT_ASSIGN_OR_RETURN(auto ranks, StagedRanks(ctx_, shard.run, shard.step, shard.world_size));
  if (ranks.size() < shard.world_size)
    return ShardSavedInfo(shard, own, shard.world_size - static_cast<uint32_t>(ranks.size()));
  return CompleteStaged(ShardManifest{rank, shard});
}

Result<CheckpointInfo> SaveRun::CompleteStaged(const ShardManifest& own) {
  const std::string label = own.manifest.run + "@" + std::to_string(own.manifest.step);
  // Every rank whose LIST came after the last shard's PUT gets here. They
  // take turns on the writer lease, and those after the first find the
  // checkpoint committed and read one manifest, not the W shards.
  CKPT_ASSIGN_OR_RETURN(auto session, OpenWriter(ctx_));
  Index& writer = session.index();
  CKPT_ASSIGN_OR_RETURN(auto existing, writer.Get(RunStepKey(own.manifest.run, own.manifest.step)));
  if (existing) {
    CKPT_ASSIGN_OR_RETURN(auto committed, ResolveRef(writer, label));
    if (!ShardIsPartOf(own, committed.manifest))
      return Status::AlreadyExists(label + " was saved concurrently");
    return MakeInfo(committed, {});
  }
  // A gc removes shards staged longer ago than its grace period in a
  // session of its own; this one must find them all still there.
  auto staged =
      ReadStagedShards(ctx_, own.manifest.run, own.manifest.step, own.manifest.world_size);
  if (!staged.ok() && staged.status().code() == Code::kNotFound)
    return Status::Aborted("shards of " + label +
                           " were removed by a gc (staged longer ago than its grace period); "
                           "save them again: " +
                           staged.status().message());
  if (!staged.ok()) return staged.status().WithContext(label);
  std::vector<const ShardManifest*> all;
  for (const StagedShard& s : *staged) all.push_back(&s.shard);
  CKPT_RETURN_IF_ERROR(CheckShardsFit(all).WithContext(label));
  ResolvedCheckpoint c;
  c.manifest = MergeShards(all);
  for (const StagedShard& s : *staged) {
    c.record.new_bytes += s.record.new_bytes;
    c.record.new_raw_bytes += s.record.new_raw_bytes;
    c.record.shared_bytes += s.record.shared_bytes;
  }
  CKPT_RETURN_IF_ERROR(StoreManifest(&c));
  IndexBatch batch;
  Status ready = AddStagedEntries(writer, ctx_.config.delta_max_depth, &*staged, &batch);
  if (!ready.ok()) {
    MarkNeverCommitted(c);
    return ready.WithContext(label);
  }
  for (const auto& [id, record] : sink_.sealed()) batch.Put(PackKey(id), EncodePackRecord(record));
  CKPT_RETURN_IF_ERROR(CommitCheckpoint(writer, c, batch));
  CKPT_RETURN_IF_ERROR(
      session.Close().WithContext(c.Label() + " is committed, but closing the index failed"));
  // The staged objects have served. One left by a failure here is removed
  // by the next gc, which sees its checkpoint committed.
  std::vector<std::string> names;
  for (const StagedShard& s : *staged) names.push_back(s.name);
  (void)ctx_.backend->RemoveMany(names);
  return MakeInfo(c, {});
}

Result<CheckpointInfo> SaveRun::CommitShard(const Manifest& shard, uint32_t rank) {
  CKPT_RETURN_IF_ERROR(sink_.Flush());  // the shard's chunks durable before they are indexed
  const std::string label = shard.run + "@" + std::to_string(shard.step);
  CKPT_ASSIGN_OR_RETURN(auto session, OpenWriter(ctx_));
  Index& writer = session.index();
  CKPT_RETURN_IF_ERROR(RestoreCollectedChunks(writer));
  const ShardRecord own = OwnShardRecord(shard);
  // The shards recorded so far. A rank saving its shard again replaces its
  // record; a record of its rank from a job of another world size is not
  // its own, and makes the fit check refuse this shard.
  CKPT_ASSIGN_OR_RETURN(auto pending, PendingShardsOf(writer, shard.run, shard.step));
  ShardManifest mine{rank, shard};
  std::vector<const ShardManifest*> all{&mine};
  std::vector<const PendingShard*> others;
  for (const PendingShard& p : pending) {
    if (p.shard.rank == rank && p.shard.manifest.world_size == shard.world_size) continue;
    all.push_back(&p.shard);
    others.push_back(&p);
  }
  CKPT_RETURN_IF_ERROR(CheckShardsFit(all).WithContext("shard " + std::to_string(rank)));
  IndexBatch batch;
  if (all.size() < shard.world_size) {
    auto existing = writer.Get(RunStepKey(shard.run, shard.step));
    if (!existing.ok()) return existing.status();
    if (*existing) return Status::AlreadyExists(label + " was saved concurrently");
    AddChunksAndPacks(&batch);
    batch.Put(ShardKey(shard.run, shard.step, rank), EncodeShardRecord(own));
    CKPT_RETURN_IF_ERROR(writer.Commit(batch));
    CKPT_RETURN_IF_ERROR(session.Close().WithContext("shard " + std::to_string(rank) + " of " +
                                                     label +
                                                     " is recorded, but closing the index failed"));
    return ShardSavedInfo(shard, own, shard.world_size - static_cast<uint32_t>(all.size()));
  }
  // The last shard: the checkpoint, with every shard's chunks, in one batch
  // that also drops the pending records. The index lock makes this session
  // the only one to see the set complete.
  ResolvedCheckpoint c;
  c.manifest = MergeShards(all);
  c.record.new_bytes = own.new_bytes;
  c.record.new_raw_bytes = own.new_raw_bytes;
  c.record.shared_bytes = own.shared_bytes;
  for (const PendingShard* p : others) {
    c.record.new_bytes += p->record.new_bytes;
    c.record.new_raw_bytes += p->record.new_raw_bytes;
    c.record.shared_bytes += p->record.shared_bytes;
    batch.Delete(p->key);
  }
  CKPT_RETURN_IF_ERROR(StoreManifest(&c));
  AddChunksAndPacks(&batch);  // after StoreManifest: its pack too
  batch.Delete(ShardKey(shard.run, shard.step, rank));
  CKPT_RETURN_IF_ERROR(CommitCheckpoint(writer, c, batch));
  CKPT_RETURN_IF_ERROR(
      session.Close().WithContext(c.Label() + " is committed, but closing the index failed"));
  return MakeInfo(c, {});
}

}  // namespace

Result<CheckpointInfo> SaveCheckpoint(StoreContext& ctx, const SaveRequest& request,
                                      const SaveOptions& options) {
  const std::string label = request.run + "@" + std::to_string(request.step);
  auto fail = [&](const Status& s) { return s.WithContext("save " + label); };
  if (ctx.options.read_only) return fail(Status::NotSupported("store opened read-only"));
  Status valid = ValidateSaveRequest(request);
  if (!valid.ok()) return fail(valid);
  auto reader = OpenReader(ctx);
  if (!reader.ok()) return fail(reader.status());
  Index& index = **reader;
  auto existing = index.Get(RunStepKey(request.run, request.step));
  if (!existing.ok()) return fail(existing.status());
  if (*existing) return fail(Status::AlreadyExists(label + " already exists"));

  Manifest manifest;
  manifest.run = request.run;
  manifest.step = request.step;
  manifest.wall_time_ns = request.meta.wall_time_ns ? request.meta.wall_time_ns : NowNs();
  manifest.chunk_size = ctx.config.chunk_size;
  manifest.metrics = request.meta.metrics;
  manifest.attributes = request.meta.attributes;
  std::optional<ResolvedCheckpoint> parent;
  if (!request.parent.empty()) {
    auto resolved = ResolveRef(index, request.parent);
    if (!resolved.ok()) return fail(resolved.status().WithContext("parent"));
    parent = std::move(*resolved);
  } else {
    auto latest = LatestOfRun(index, request.run);
    if (!latest.ok()) return fail(latest.status());
    if (*latest) {
      auto resolved = LoadCheckpoint(index, **latest);
      if (!resolved.ok()) return fail(resolved.status().WithContext("parent"));
      parent = std::move(*resolved);
    }
  }
  if (parent) manifest.parent = parent->id;
  SaveRun run(ctx, index, options);
  Status s = run.Run(&manifest, request, parent);
  if (!s.ok()) return fail(s);
  manifest.world_size = request.world_size;
  const int shards_format = ctx.shared_index ? kStagedShardsFormatVersion : kShardedFormatVersion;
  if (manifest.sharded() && ctx.config.format_version < shards_format) {
    Status upgraded = UpgradeConfigForShards(*ctx.backend, ctx.path, shards_format);
    if (!upgraded.ok()) return fail(upgraded);
  }
  auto info = !manifest.sharded() ? run.Commit(manifest)
              : ctx.shared_index  ? run.StageShard(manifest, request.rank)
                                  : run.CommitShard(manifest, request.rank);
  if (!info.ok()) return fail(info.status());
  ctx.saves++;
  return info;
}

}  // namespace ckpt::internal
