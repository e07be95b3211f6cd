#include "store/saver.h"

#include <atomic>
#include <chrono>
#include <unordered_map>
#include <unordered_set>

#include "chunk/chunker.h"
#include "codec/chunk_codec.h"
#include "gc/sweeper.h"
#include "store/index_sessions.h"
#include "store/pack_sink.h"
#include "store/ref_resolver.h"
#include "store/save_validation.h"

namespace ckpt::internal {
namespace {

struct Source {
  ManifestEntry* entry;
  const uint8_t* data;
};

struct ChunkJob {
  size_t source;
  size_t index;
};

// State shared by the workers of one save.
class SaveRun {
 public:
  // `reader` is the index view the save began with; it answers "is this
  // chunk stored already?" during the save.
  SaveRun(StoreContext& ctx, Index& reader, const SaveOptions& options)
      : ctx_(ctx), reader_(reader), options_(options),
        sink_(*ctx.backend, ctx.options.pack_target_size) {}

  Status Run(Manifest* manifest, const SaveRequest& request);
  Result<CheckpointInfo> Commit(Manifest& manifest);
  // `writer` is the commit's session.
  Status RestoreCollectedChunks(Index& writer);

 private:
  void ProcessChunk(const ChunkJob& job);
  // Stores one chunk unless `dedup` (if given) has it; then sets *reused.
  Status StoreChunk(const Digest& digest, const uint8_t* data, uint64_t length,
                    const ManifestEntry& entry, size_t source, Index* dedup, bool* reused);
  PlanesChoice PlanesFor(size_t source, const uint8_t* data, uint64_t length,
                         const EncodeParams& params);
  void Fail(Status s);
  void Progress(uint64_t bytes);

  StoreContext& ctx_;
  Index& reader_;
  const SaveOptions& options_;
  PackSink sink_;
  std::vector<Source> sources_;
  std::vector<ChunkJob> jobs_;
  // Per source: 0 undecided, else a PlanesChoice, decided on its first chunk.
  std::unique_ptr<std::atomic<uint8_t>[]> planes_;
  uint64_t logical_bytes_ = 0;

  std::mutex mu_;
  std::unordered_set<Digest, DigestHash> claimed_;
  std::unordered_map<Digest, ChunkLocation, DigestHash> new_chunks_;
  std::vector<ChunkJob> reused_;  // chunks found already stored
  uint64_t gc_generation_ = 0;    // when the save began
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

Status SaveRun::StoreChunk(const Digest& digest, const uint8_t* data, uint64_t length,
                           const ManifestEntry& entry, size_t source, Index* dedup,
                           bool* reused) {
  if (dedup) {
    CKPT_ASSIGN_OR_RETURN(auto existing, dedup->Get(ChunkKey(digest)));
    if (existing) {
      *reused = true;  // stored by an earlier save: costs nothing more
      return Status::OK();
    }
  }
  EncodeParams params;
  params.elem_size = entry.is_blob ? 1 : DTypeSize(entry.dtype);
  params.is_float = !entry.is_blob && DTypeIsFloat(entry.dtype);
  params.zstd_level = ctx_.config.zstd_level;
  if (params.is_float) params.planes = PlanesFor(source, data, length, params);
  thread_local std::string encoded;  // reused: no page faults per chunk
  Codec codec = EncodeChunk(data, length, params, &encoded);
  ChunkLocation loc;
  CKPT_RETURN_IF_ERROR(sink_.Add(EntryKind::kChunk, static_cast<uint8_t>(codec), digest, encoded,
                                 static_cast<uint32_t>(length), &loc));
  std::lock_guard<std::mutex> lock(mu_);
  new_chunks_.emplace(digest, loc);
  return Status::OK();
}

void SaveRun::ProcessChunk(const ChunkJob& job) {
  if (failed_) return;
  const Source& src = sources_[job.source];
  ManifestEntry& entry = *src.entry;
  uint64_t span = ChunkSpan(ctx_.config.chunk_size, entry.is_blob ? 1 : DTypeSize(entry.dtype));
  uint64_t length = ChunkLength(entry.byte_length, span, job.index);
  const uint8_t* data = src.data + job.index * span;
  Digest digest = Sha256(data, length);
  entry.chunks[job.index] = digest;
  bool first;
  {
    std::lock_guard<std::mutex> lock(mu_);
    first = claimed_.insert(digest).second;
  }
  if (first) {
    bool reused = false;
    Status s = StoreChunk(digest, data, length, entry, job.source, &reader_, &reused);
    if (reused) {
      std::lock_guard<std::mutex> lock(mu_);
      reused_.push_back(job);
    }
    if (!s.ok()) Fail(s.WithContext("chunk " + std::to_string(job.index) + " of '" + entry.name +
                                    "' (" + digest.ShortHex() + ")"));
  }
  Progress(length);
}

Status SaveRun::Run(Manifest* manifest, const SaveRequest& request) {
  manifest->entries.reserve(request.tensors.size() + request.blobs.size());
  for (const auto& t : request.tensors) {
    ManifestEntry e{t.name, false, t.dtype, t.shape, t.size, {}};
    manifest->entries.push_back(std::move(e));
    sources_.push_back({nullptr, static_cast<const uint8_t*>(t.data)});
  }
  for (const auto& b : request.blobs) {
    ManifestEntry e{b.name, true, DType::kU8, {static_cast<int64_t>(b.size)}, b.size, {}};
    manifest->entries.push_back(std::move(e));
    sources_.push_back({nullptr, static_cast<const uint8_t*>(b.data)});
  }
  planes_ = std::make_unique<std::atomic<uint8_t>[]>(sources_.size());
  for (size_t i = 0; i < sources_.size(); ++i) {
    ManifestEntry& e = manifest->entries[i];
    sources_[i].entry = &e;
    uint64_t count = ChunkCount(e.byte_length, manifest->SpanOf(e));
    e.chunks.resize(count);
    for (uint64_t c = 0; c < count; ++c) jobs_.push_back({i, c});
    logical_bytes_ += e.byte_length;
  }
  CKPT_ASSIGN_OR_RETURN(gc_generation_, ReadGcGeneration(reader_));
  ctx_.pool->ParallelFor(jobs_.size(), [this](size_t i) { ProcessChunk(jobs_[i]); });
  if (failed_) return first_error_;
  return Status::OK();
}

Status SaveRun::RestoreCollectedChunks(Index& writer) {
  CKPT_ASSIGN_OR_RETURN(uint64_t generation, ReadGcGeneration(writer));
  if (generation == gc_generation_) return Status::OK();  // no gc swept since we looked
  // A gc swept since this save found these chunks stored; any it reclaimed
  // are written again from the caller's bytes, which are still ours.
  for (const ChunkJob& job : reused_) {
    const ManifestEntry& entry = *sources_[job.source].entry;
    const Digest& digest = entry.chunks[job.index];
    CKPT_ASSIGN_OR_RETURN(auto present, writer.Get(ChunkKey(digest)));
    if (present || new_chunks_.count(digest)) continue;
    uint64_t span = ChunkSpan(ctx_.config.chunk_size, entry.is_blob ? 1 : DTypeSize(entry.dtype));
    uint64_t length = ChunkLength(entry.byte_length, span, job.index);
    bool reused = false;
    CKPT_RETURN_IF_ERROR(StoreChunk(digest, sources_[job.source].data + job.index * span, length,
                                    entry, job.source, nullptr, &reused));
    ctx_.chunks_rewritten_after_gc++;
  }
  return sink_.Flush();
}

Result<CheckpointInfo> SaveRun::Commit(Manifest& manifest) {
  ResolvedCheckpoint c;
  c.record.manifest = EncodeManifest(manifest);
  c.id = Sha256(c.record.manifest.data(), c.record.manifest.size());
  c.manifest = manifest;
  for (const auto& [digest, loc] : new_chunks_) {
    c.record.new_bytes += loc.length;
    c.record.new_raw_bytes += loc.raw_length;
  }
  c.record.shared_bytes = logical_bytes_ - c.record.new_raw_bytes;
  // The manifest goes into the last pack too, so repair can find it.
  std::string encoded;
  Codec codec = EncodeChunk(c.record.manifest.data(), c.record.manifest.size(), {}, &encoded);
  ChunkLocation manifest_loc;
  CKPT_RETURN_IF_ERROR(sink_.Add(EntryKind::kManifest, static_cast<uint8_t>(codec), c.id, encoded,
                                 static_cast<uint32_t>(c.record.manifest.size()), &manifest_loc));
  c.record.manifest_location = manifest_loc;
  CKPT_RETURN_IF_ERROR(sink_.Flush());  // every pack durable before the commit

  const std::string run_key = RunStepKey(manifest.run, manifest.step);
  const std::string tombstone = DeletedRefName(c.id.Hex());
  CKPT_ASSIGN_OR_RETURN(auto session, OpenWriter(ctx_));
  Index& writer = session.index();
  CKPT_RETURN_IF_ERROR(RestoreCollectedChunks(writer));
  IndexBatch batch;
  for (const auto& [digest, loc] : new_chunks_) batch.Put(ChunkKey(digest), EncodeChunkLocation(loc));
  for (const auto& [id, record] : sink_.sealed()) batch.Put(PackKey(id), EncodePackRecord(record));
  batch.Put(CheckpointKey(c.id), EncodeCheckpointRecord(c.record));
  batch.Put(run_key, c.id.View());
  // An identical checkpoint deleted earlier (same content, step and wall
  // time) must not stay marked deleted once saved again.
  if (ctx_.backend->Size(tombstone).ok()) CKPT_RETURN_IF_ERROR(ctx_.backend->Remove(tombstone));
  auto existing = writer.Get(run_key);
  Status s = !existing.ok() ? existing.status()
             : *existing    ? Status::AlreadyExists(c.Label() + " was saved concurrently")
                            : writer.Commit(batch);
  if (!s.ok()) {
    // Its manifest is durable in a pack; mark it so repair does not revive
    // a save that never committed. Best effort: gc reclaims it either way.
    const std::string hex = c.id.Hex();
    (void)ctx_.backend->Put(tombstone, hex.data(), hex.size());
    return s;
  }
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
  if (!request.parent.empty()) {
    auto parent = ResolveRef(index, request.parent);
    if (!parent.ok()) return fail(parent.status().WithContext("parent"));
    manifest.parent = parent->id;
  } else {
    auto latest = LatestOfRun(index, request.run);
    if (!latest.ok()) return fail(latest.status());
    manifest.parent = *latest;
  }
  SaveRun run(ctx, index, options);
  Status s = run.Run(&manifest, request);
  if (!s.ok()) return fail(s);
  auto info = run.Commit(manifest);
  if (!info.ok()) return fail(info.status());
  ctx.saves++;
  return info;
}

}  // namespace ckpt::internal
