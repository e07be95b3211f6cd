#include "store/store_impl.h"

#include <algorithm>
#include <map>
#include <system_error>
#include <unordered_set>

#include "gc/collector.h"
#include "repo/checkpoint_remover.h"
#include "repo/checkpoint_summary.h"
#include "repo/index_sessions.h"
#include "repo/loader.h"
#include "repo/policy_codec.h"
#include "repo/ref_resolver.h"
#include "store/checkpoint_reader_impl.h"
#include "store/saver.h"
#include "store/verifier.h"

namespace ckpt::internal {

Status StoreImpl::RequireWritable(const std::string& what) const {
  if (ctx_->options.read_only) return Status::NotSupported(what + ": store opened read-only");
  return Status::OK();
}

StoreImpl::~StoreImpl() {
  // Queued async saves first: each one may still start a background gc.
  async_.reset();
  std::thread running;
  {
    std::lock_guard<std::mutex> lock(auto_gc_mu_);
    running = std::move(auto_gc_);
  }
  if (running.joinable()) running.join();  // the gc takes auto_gc_mu_ as it ends
}

Result<CheckpointInfo> StoreImpl::Save(const SaveRequest& request, const SaveOptions& options) {
  auto info = SaveCheckpoint(*ctx_, request, options);
  if (info.ok()) MaybeStartAutoGc();
  return info;
}

Result<SaveHandle> StoreImpl::SaveAsync(const SaveRequest& request, const SaveOptions& options) {
  if (ctx_->options.read_only)
    return Status::NotSupported("store opened read-only")
        .WithContext("save " + request.run + "@" + std::to_string(request.step));
  AsyncSaver* saver;
  {
    std::lock_guard<std::mutex> lock(async_mu_);
    if (!async_) {
      // Through Save, so that async saves count towards gc_every_saves too.
      try {
        async_ = std::make_unique<AsyncSaver>(
            ctx_->options.async_staging_bytes, ctx_->pool.get(),
            [this](const SaveRequest& r, const SaveOptions& o) { return StoreImpl::Save(r, o); });
      } catch (const std::system_error& e) {  // the OS refused the saver's thread
        return Status::IOError(std::string("start the background saver: ") + e.what())
            .WithContext("save " + request.run + "@" + std::to_string(request.step));
      }
    }
    saver = async_.get();
  }
  return saver->Submit(request, options);
}

void StoreImpl::MaybeStartAutoGc() {
  if (ctx_->options.gc_every_saves == 0) return;
  std::lock_guard<std::mutex> lock(auto_gc_mu_);
  if (++saves_since_gc_ < ctx_->options.gc_every_saves || auto_gc_running_) return;
  saves_since_gc_ = 0;
  if (auto_gc_.joinable()) auto_gc_.join();  // finished: auto_gc_running_ is false
  auto_gc_running_ = true;
  try {
    auto_gc_ = std::thread([this] {
      GcOptions options;
      options.grace_seconds = ctx_->options.auto_gc_grace_seconds;
      auto report = CollectGarbage(*ctx_, options);
      std::lock_guard<std::mutex> done(auto_gc_mu_);
      auto_gc_runs_++;
      if (!report.ok()) {
        auto_gc_failures_++;
        last_auto_gc_error_ = report.status().ToString();
      }
      auto_gc_running_ = false;
    });
  } catch (const std::system_error& e) {  // the OS refused a thread: the save stands
    auto_gc_running_ = false;
    auto_gc_failures_++;
    last_auto_gc_error_ = std::string("start automatic gc: ") + e.what();
  }
}

Result<CheckpointInfo> StoreImpl::Resolve(const std::string& ref) {
  CKPT_ASSIGN_OR_RETURN(auto index, OpenReader(*ctx_));
  CKPT_ASSIGN_OR_RETURN(auto c, ResolveRef(*index, ref));
  CKPT_ASSIGN_OR_RETURN(auto tags, TagsOfCheckpoint(*index, c.id));
  return MakeInfo(c, tags);
}

Result<CheckpointDetail> StoreImpl::Describe(const std::string& ref) {
  CKPT_ASSIGN_OR_RETURN(auto index, OpenReader(*ctx_));
  CKPT_ASSIGN_OR_RETURN(auto c, ResolveRef(*index, ref));
  CKPT_ASSIGN_OR_RETURN(auto tags, TagsOfCheckpoint(*index, c.id));
  return MakeDetail(c, tags);
}

Result<LoadedCheckpoint> StoreImpl::Load(const std::string& ref, const LoadOptions& options) {
  CKPT_ASSIGN_OR_RETURN(auto index, OpenReader(*ctx_));
  CKPT_ASSIGN_OR_RETURN(auto c, ResolveRef(*index, ref));
  LoadedCheckpoint out;
  out.id = c.id.Hex();
  out.run = c.manifest.run;
  out.step = c.manifest.step;
  if (c.manifest.parent) out.parent_id = c.manifest.parent->Hex();
  out.meta.metrics = c.manifest.metrics;
  out.meta.attributes = c.manifest.attributes;
  out.meta.wall_time_ns = c.manifest.wall_time_ns;
  // Every buffer first, then one parallel read of all chunks.
  CKPT_ASSIGN_OR_RETURN(auto views, ViewEntries(c.manifest));
  std::vector<PartRead> parts;
  std::vector<std::vector<uint8_t>> data;
  std::vector<uint8_t*> dsts;
  data.reserve(views.size());
  for (const EntryView& v : views) {
    CKPT_RETURN_IF_ERROR(AddViewRead(c.manifest, v, dsts.size(), &parts));
    data.emplace_back(v.byte_length);
    dsts.push_back(data.back().data());
  }
  CKPT_RETURN_IF_ERROR(ReadParts(*ctx_, *index, c, parts, dsts, nullptr, options.progress));
  for (size_t i = 0; i < views.size(); ++i) {
    const EntryView& v = views[i];
    if (v.is_blob)
      out.blobs.push_back({v.name, std::move(data[i])});
    else
      out.tensors.push_back({v.name, v.dtype, v.shape, std::move(data[i])});
  }
  return out;
}

Result<std::unique_ptr<CheckpointReader>> StoreImpl::OpenCheckpoint(const std::string& ref) {
  CKPT_ASSIGN_OR_RETURN(auto reader, CheckpointReaderImpl::Open(*ctx_, ref));
  return std::unique_ptr<CheckpointReader>(std::move(reader));
}

Status StoreImpl::LoadEntry(const std::string& ref, const std::string& name, void* dst,
                            size_t dst_size, const LoadOptions& options) {
  CKPT_ASSIGN_OR_RETURN(auto reader, CheckpointReaderImpl::Open(*ctx_, ref));
  return reader->ReadEntry(name, dst, dst_size, options);
}

Status StoreImpl::LoadRange(const std::string& ref, const std::string& name, uint64_t offset,
                            uint64_t length, void* dst) {
  CKPT_ASSIGN_OR_RETURN(auto reader, CheckpointReaderImpl::Open(*ctx_, ref));
  return reader->ReadRange(name, offset, length, dst);
}

Status StoreImpl::LoadBox(const std::string& ref, const std::string& name,
                          const std::vector<int64_t>& offsets, const std::vector<int64_t>& shape,
                          void* dst, size_t dst_size) {
  CKPT_ASSIGN_OR_RETURN(auto reader, CheckpointReaderImpl::Open(*ctx_, ref));
  return reader->ReadBox(name, offsets, shape, dst, dst_size);
}

Result<std::vector<RunInfo>> StoreImpl::ListRuns() {
  CKPT_ASSIGN_OR_RETURN(auto index, OpenReader(*ctx_));
  return ListRunsIn(*index);
}

Result<std::vector<RunInfo>> StoreImpl::ListRunsIn(Index& index) {
  std::map<std::string, RunInfo> runs;
  CKPT_RETURN_IF_ERROR(index.Scan(kRunStepKeys, [&](std::string_view k, std::string_view v) {
    std::string run;
    uint64_t step;
    if (!ParseRunStepKey(k, &run, &step) || v.size() != Digest::kSize) return true;
    RunInfo& info = runs[run];
    info.name = run;
    info.checkpoint_count++;
    info.latest_step = step;
    info.latest_id = Digest::FromView(v).Hex();
    return true;
  }));
  std::vector<RunInfo> out;
  for (auto& [name, info] : runs) out.push_back(std::move(info));
  return out;
}

Result<std::vector<CheckpointInfo>> StoreImpl::ListCheckpoints(const std::string& run) {
  if (!run.empty() && !IsValidName(run))
    return Status::InvalidArgument("invalid run name '" + run + "'");
  CKPT_ASSIGN_OR_RETURN(auto index, OpenReader(*ctx_));
  std::vector<Digest> ids;
  CKPT_RETURN_IF_ERROR(index->Scan(run.empty() ? std::string(kRunStepKeys) : RunPrefix(run),
                                   [&](auto, std::string_view v) {
                                     if (v.size() == Digest::kSize)
                                       ids.push_back(Digest::FromView(v));
                                     return true;
                                   }));
  if (!run.empty() && ids.empty()) return Status::NotFound("run '" + run + "' not found");
  CKPT_ASSIGN_OR_RETURN(auto tags, TagsById(*index));
  return LoadInfos(*index, ids, tags);
}

Status StoreImpl::Tag(const std::string& ref, const std::string& tag) {
  CKPT_RETURN_IF_ERROR(RequireWritable("tag"));
  if (!IsValidName(tag)) return Status::InvalidArgument("invalid tag name '" + tag + "'");
  // Resolve in the writer session so a concurrent Delete cannot leave the tag dangling.
  CKPT_ASSIGN_OR_RETURN(auto session, OpenWriter(*ctx_));
  Index& index = session.index();
  CKPT_ASSIGN_OR_RETURN(auto c, ResolveRef(index, ref));
  CKPT_ASSIGN_OR_RETURN(auto existing, index.Get(TagKey(tag)));
  if (existing) {
    if (*existing == c.id.View()) return Status::OK();
    return Status::AlreadyExists("tag '" + tag + "' already names another checkpoint");
  }
  // The ref object first: the index entry is what makes the tag visible, and
  // repair restores tags from these objects.
  std::string hex = c.id.Hex();
  CKPT_RETURN_IF_ERROR(ctx_->backend->Put(TagRefName(tag), hex.data(), hex.size()));
  IndexBatch batch;
  batch.Put(TagKey(tag), c.id.View());
  CKPT_RETURN_IF_ERROR(index.Commit(batch));
  return session.Close();
}

Status StoreImpl::Untag(const std::string& tag) {
  CKPT_RETURN_IF_ERROR(RequireWritable("untag"));
  CKPT_ASSIGN_OR_RETURN(auto session, OpenWriter(*ctx_));
  Index& index = session.index();
  CKPT_ASSIGN_OR_RETURN(auto existing, index.Get(TagKey(tag)));
  if (!existing) return Status::NotFound("tag '" + tag + "' not found");
  CKPT_RETURN_IF_ERROR(ctx_->backend->Remove(TagRefName(tag)));
  IndexBatch batch;
  batch.Delete(TagKey(tag));
  CKPT_RETURN_IF_ERROR(index.Commit(batch));
  return session.Close();
}

Status StoreImpl::Delete(const std::string& ref) {
  CKPT_RETURN_IF_ERROR(RequireWritable("delete"));
  CKPT_ASSIGN_OR_RETURN(auto session, OpenWriter(*ctx_));
  CKPT_ASSIGN_OR_RETURN(auto c, ResolveRef(session.index(), ref));
  CKPT_RETURN_IF_ERROR(RemoveCheckpoint(*ctx_, session.index(), c));
  return session.Close();
}

Status StoreImpl::SetPolicy(const std::string& run, const RetentionPolicy& policy) {
  CKPT_RETURN_IF_ERROR(RequireWritable("set policy"));
  if (!run.empty() && !IsValidName(run))
    return Status::InvalidArgument("invalid run name '" + run + "'");
  if (policy.empty()) return Status::InvalidArgument("a policy needs at least one keep rule");
  std::string encoded = EncodePolicy(policy);
  CKPT_ASSIGN_OR_RETURN(auto session, OpenWriter(*ctx_));
  // The ref first, like tags: repair restores policies from these objects.
  CKPT_RETURN_IF_ERROR(ctx_->backend->Put(PolicyRefName(run), encoded.data(), encoded.size()));
  IndexBatch batch;
  batch.Put(PolicyKey(run), encoded);
  CKPT_RETURN_IF_ERROR(session.index().Commit(batch));
  return session.Close();
}

Status StoreImpl::UnsetPolicy(const std::string& run) {
  CKPT_RETURN_IF_ERROR(RequireWritable("unset policy"));
  CKPT_ASSIGN_OR_RETURN(auto session, OpenWriter(*ctx_));
  CKPT_ASSIGN_OR_RETURN(auto existing, LoadPolicy(session.index(), run));
  if (!existing)
    return Status::NotFound(run.empty() ? "no default policy is set"
                                        : "run '" + run + "' has no policy");
  CKPT_RETURN_IF_ERROR(ctx_->backend->Remove(PolicyRefName(run)));
  IndexBatch batch;
  batch.Delete(PolicyKey(run));
  CKPT_RETURN_IF_ERROR(session.index().Commit(batch));
  return session.Close();
}

Result<RetentionPolicy> StoreImpl::GetPolicy(const std::string& run) {
  CKPT_ASSIGN_OR_RETURN(auto index, OpenReader(*ctx_));
  CKPT_ASSIGN_OR_RETURN(auto policy, LoadPolicy(*index, run));
  if (!policy)
    return Status::NotFound(run.empty() ? "no default policy is set"
                                        : "run '" + run + "' has no policy");
  return *policy;
}

Result<std::vector<std::pair<std::string, RetentionPolicy>>> StoreImpl::ListPolicies() {
  CKPT_ASSIGN_OR_RETURN(auto index, OpenReader(*ctx_));
  std::vector<std::pair<std::string, RetentionPolicy>> out;
  Status error;
  CKPT_RETURN_IF_ERROR(index->Scan(kPolicyKeys, [&](std::string_view k, std::string_view v) {
    RetentionPolicy p;
    error = DecodePolicy(v, &p);
    if (!error.ok()) return false;
    out.emplace_back(std::string(k.substr(1)), std::move(p));
    return true;
  }));
  CKPT_RETURN_IF_ERROR(error);
  return out;
}

StoreCounters StoreImpl::Counters() const {
  StoreCounters c;
  c.saves = ctx_->saves;
  c.writer_sessions = ctx_->writer_sessions;
  c.lock_wait_total_us = ctx_->lock_wait_total_us;
  c.lock_wait_max_us = ctx_->lock_wait_max_us;
  c.chunks_rewritten_after_gc = ctx_->chunks_rewritten_after_gc;
  std::lock_guard<std::mutex> lock(auto_gc_mu_);
  c.auto_gc_runs = auto_gc_runs_;
  c.auto_gc_failures = auto_gc_failures_;
  c.last_auto_gc_error = last_auto_gc_error_;
  return c;
}

Result<GcReport> StoreImpl::Gc(const GcOptions& options) { return CollectGarbage(*ctx_, options); }

Result<VerifyReport> StoreImpl::Verify(const VerifyOptions& options) {
  return VerifyStore(*ctx_, options);
}

Result<StoreStats> StoreImpl::Stats() {
  CKPT_ASSIGN_OR_RETURN(auto index, OpenReader(*ctx_));
  StoreStats s;
  Status decode;
  std::unordered_set<std::string> packs;  // entries into other packs no longer count
  CKPT_RETURN_IF_ERROR(index->Scan(kPackKeys, [&](std::string_view k, std::string_view v) {
    PackRecord rec;
    decode = DecodePackRecord(v, &rec);
    packs.insert(PackIdOfKey(k));
    s.packs++;
    s.pack_bytes += rec.size;
    return decode.ok();
  }));
  CKPT_RETURN_IF_ERROR(decode);
  CKPT_RETURN_IF_ERROR(index->Scan(kChunkKeys, [&](auto, std::string_view v) {
    ChunkLocation loc;
    decode = DecodeChunkLocation(v, &loc);
    if (!decode.ok()) return false;
    if (!packs.count(loc.pack_id)) return true;
    s.chunks++;
    s.unique_raw_bytes += loc.raw_length;
    s.stored_chunk_bytes += loc.length;
    if (loc.is_delta()) {
      s.delta_chunks++;
      s.delta_raw_bytes += loc.raw_length;
      s.delta_stored_bytes += loc.length;
      s.max_delta_depth = std::max<uint32_t>(s.max_delta_depth, loc.depth);
    }
    return true;
  }));
  CKPT_RETURN_IF_ERROR(decode);
  std::vector<Digest> ids;
  CKPT_RETURN_IF_ERROR(index->Scan(kRunStepKeys, [&](auto, std::string_view v) {
    if (v.size() == Digest::kSize) ids.push_back(Digest::FromView(v));
    return true;
  }));
  CKPT_ASSIGN_OR_RETURN(auto infos, LoadInfos(*index, ids, {}));
  s.checkpoints = infos.size();
  for (const auto& info : infos) s.logical_bytes += info.logical_bytes;
  CKPT_ASSIGN_OR_RETURN(auto runs, ListRunsIn(*index));
  s.runs = runs.size();
  CKPT_RETURN_IF_ERROR(index->Scan(kTagKeys, [&](auto, auto) {
    s.tags++;
    return true;
  }));
  return s;
}

}  // namespace ckpt::internal

namespace ckpt {

double StoreStats::DedupRatio() const {
  return unique_raw_bytes ? static_cast<double>(logical_bytes) / unique_raw_bytes : 1.0;
}
double StoreStats::CompressionRatio() const {
  return stored_chunk_bytes ? static_cast<double>(unique_raw_bytes) / stored_chunk_bytes : 1.0;
}

}  // namespace ckpt
