#include "store/verifier.h"

#include <algorithm>
#include <functional>
#include <mutex>
#include <numeric>
#include <set>

#include "pack/pack_writer.h"
#include "repo/checkpoint_summary.h"
#include "repo/index_log.h"
#include "repo/index_sessions.h"
#include "repo/loader.h"
#include "repo/pending_shards.h"
#include "repo/staged_shards.h"
#include "store/chunk_table.h"

namespace ckpt::internal {
namespace {

class Verification {
 public:
  Verification(StoreContext& ctx, const VerifyOptions& options)
      : ctx_(ctx), options_(options), table_(options.read_data) {}

  Result<VerifyReport> Run();

 private:
  // Checks every manifest, then locates the chunks they name and the
  // bases down their chains.
  Status CheckIndex();
  Status CheckSummary(const Digest& id, const CheckpointRecord& rec, const Manifest& m);
  // Calls fn(label, manifest) for every checkpoint and pending shard that
  // decodes ("run@step", "run@step shard R (pending)").
  Status ForEachManifest(const std::function<void(const std::string&, const Manifest&)>& fn);
  // A store in object storage: the bucket's index log, which every new
  // host replays, even where this host applied it long ago.
  Status CheckLog();
  Status CheckStagedShards();
  // The numbers of the table's packs, in the order of their ids.
  std::vector<uint32_t> PacksInOrder() const;
  void CheckPacks();
  void ReadData();
  Status MapToCheckpoints();

  StoreContext& ctx_;
  const VerifyOptions& options_;
  std::unique_ptr<Index> index_;  // one view for the whole run: a consistent snapshot
  VerifyReport report_;
  ChunkTable table_;
  // Problems before they are mapped to the checkpoints they touch.
  std::vector<ChunkProblem> pending_;
  std::vector<bool> bad_packs_;  // by pack number
};

// A summary that disagrees with its manifest would make log and gc's
// plan see another checkpoint than a load does. None at all is an index
// from before summaries.
Status Verification::CheckSummary(const Digest& id, const CheckpointRecord& rec,
                                  const Manifest& m) {
  CKPT_ASSIGN_OR_RETURN(auto value, index_->Get(SummaryKey(id)));
  if (!value) return Status::OK();
  CheckpointSummary stored;
  CKPT_RETURN_IF_ERROR(DecodeCheckpointSummary(*value, &stored));
  if (!(stored == SummarizeCheckpoint(rec, m)))
    return Status::Corruption("its summary differs from its manifest; run 'ckpt repair'");
  return Status::OK();
}

Status Verification::CheckIndex() {
  CKPT_RETURN_IF_ERROR(index_->Scan(kCheckpointKeys, [&](std::string_view k, std::string_view v) {
    CheckpointRecord rec;
    Manifest m;
    Digest id = Digest::FromView(k.substr(1));
    Status s = DecodeCheckpointRecord(v, &rec);
    if (s.ok()) s = DecodeManifest(rec.manifest, &m);
    if (s.ok() && Sha256(rec.manifest.data(), rec.manifest.size()) != id)
      s = Status::Corruption("manifest does not match its id");
    if (!s.ok()) {
      report_.problems.push_back({s.WithContext("checkpoint " + id.ShortHex()), {id.Hex()}, {}});
      return true;
    }
    report_.checkpoints_checked++;
    Status summary = CheckSummary(id, rec, m);
    if (!summary.ok())
      report_.problems.push_back(
          {summary.WithContext("checkpoint " + id.ShortHex()), {id.Hex()}, {}});
    table_.AddChunksOf(m);
    if (options_.progress && !options_.read_data)
      options_.progress(report_.checkpoints_checked, report_.checkpoints_checked);
    return true;
  }));
  // Shards of sharded checkpoints still being written: their chunks are
  // indexed and will be named by the checkpoint.
  Status shards = ForEachPendingShard(*index_, [&](PendingShard& p) {
    report_.pending_shards_checked++;
    table_.AddChunksOf(p.shard.manifest);
    return Status::OK();
  });
  if (!shards.ok() && shards.code() != Code::kCorruption) return shards;
  if (!shards.ok()) report_.problems.push_back({shards, {}, {}});
  CKPT_RETURN_IF_ERROR(CheckStagedShards());
  CKPT_RETURN_IF_ERROR(table_.Locate(*index_, &pending_));
  for (uint32_t i = 0; i < table_.named(); ++i)
    if (!table_.found(i))
      pending_.push_back({Status::Corruption("chunk " + table_.digest(i).ShortHex() +
                                             " is missing from the index"),
                          {i}});
  return Status::OK();
}

// Shards staged in a bucket are not indexed; that they decode is what can
// be checked here. The rank that completes their checkpoint checks that
// what they name is stored.
Status Verification::CheckStagedShards() {
  if (!ctx_.shared_index) return Status::OK();
  CKPT_ASSIGN_OR_RETURN(auto names, ctx_.backend->List(kStagedShardPrefix));
  for (const auto& name : names) {
    auto bytes = ctx_.backend->GetWhole(name);
    if (!bytes.ok() && bytes.status().code() == Code::kNotFound) continue;  // completed meanwhile
    if (!bytes.ok()) return bytes.status().WithContext(name);
    auto staged = DecodeStagedShard(name, *bytes);
    if (staged.ok())
      report_.pending_shards_checked++;
    else
      report_.problems.push_back({staged.status(), {}, {}});
  }
  return Status::OK();
}

Status Verification::CheckLog() {
  if (!ctx_.shared_index) return Status::OK();
  std::vector<Status> problems;
  CKPT_RETURN_IF_ERROR(internal::CheckLog(ctx_, options_.read_data, &problems));
  for (Status& s : problems) pending_.push_back({std::move(s), {}});
  return Status::OK();
}

std::vector<uint32_t> Verification::PacksInOrder() const {
  std::vector<uint32_t> order(table_.pack_count());
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(),
            [&](uint32_t a, uint32_t b) { return table_.pack_id(a) < table_.pack_id(b); });
  return order;
}

void Verification::CheckPacks() {
  bad_packs_.assign(table_.pack_count(), false);
  std::vector<uint32_t> problem_of(table_.pack_count(), ChunkTable::kNone);
  for (uint32_t pack : PacksInOrder()) {
    const std::string& id = table_.pack_id(pack);
    Status s;
    auto size = ctx_.backend->Size(PackObjectName(id));
    auto rec = index_->Get(PackKey(id));
    PackRecord record;
    if (!size.ok()) {
      s = size.status();
    } else if (rec.ok() && *rec && DecodePackRecord(**rec, &record).ok() && record.size != *size) {
      s = Status::Corruption("size " + std::to_string(*size) + " differs from the indexed " +
                             std::to_string(record.size));
    } else if (options_.read_data) {
      std::vector<PackEntry> entries;
      uint64_t file_size;
      s = ReadPackIndex(*ctx_.backend, id, &entries, &file_size);
    }
    if (!s.ok()) {
      bad_packs_[pack] = true;
      problem_of[pack] = static_cast<uint32_t>(pending_.size());
      pending_.push_back({s.WithContext("pack " + id), {}});
    }
  }
  if (std::find(bad_packs_.begin(), bad_packs_.end(), true) == bad_packs_.end()) return;
  for (uint32_t i = 0; i < table_.size(); ++i)
    if (table_.found(i) && bad_packs_[table_.info(i).pack])
      pending_[problem_of[table_.info(i).pack]].chunks.push_back(i);
}

void Verification::ReadData() {
  std::vector<uint32_t> rank(table_.pack_count());
  const std::vector<uint32_t> order = PacksInOrder();
  for (uint32_t r = 0; r < order.size(); ++r) rank[order[r]] = r;
  std::vector<uint32_t> refs;
  uint64_t total = 0;
  for (uint32_t i = 0; i < table_.size(); ++i) {
    if (!table_.found(i) || bad_packs_[table_.info(i).pack]) continue;
    refs.push_back(i);
    total += table_.extent(i).length;
  }
  std::sort(refs.begin(), refs.end(), [&](uint32_t a, uint32_t b) {
    return std::make_pair(rank[table_.info(a).pack], table_.extent(a).offset) <
           std::make_pair(rank[table_.info(b).pack], table_.extent(b).offset);
  });
  std::mutex mu;
  ctx_.pool->ParallelFor(refs.size(), [&](size_t k) {
    const uint32_t i = refs[k];
    const ChunkTable::Extent& extent = table_.extent(i);
    std::vector<uint8_t> buffer(extent.raw_length);
    Status s = ReadChunk(ctx_, *index_, table_.digest(i), extent.raw_length, buffer.data());
    std::lock_guard<std::mutex> lock(mu);
    report_.chunks_checked++;
    report_.bytes_read += extent.length;
    if (!s.ok()) pending_.push_back({s, {i}});
    if (options_.progress) options_.progress(report_.bytes_read, total);
  });
}

Status Verification::ForEachManifest(
    const std::function<void(const std::string&, const Manifest&)>& fn) {
  CKPT_RETURN_IF_ERROR(index_->Scan(kCheckpointKeys, [&](auto, std::string_view v) {
    CheckpointRecord rec;
    Manifest m;
    if (DecodeCheckpointRecord(v, &rec).ok() && DecodeManifest(rec.manifest, &m).ok())
      fn(m.run + "@" + std::to_string(m.step), m);
    return true;
  }));
  Status shards = ForEachPendingShard(*index_, [&](PendingShard& p) {
    const Manifest& m = p.shard.manifest;
    fn(m.run + "@" + std::to_string(m.step) + " shard " + std::to_string(p.shard.rank) +
           " (pending)",
       m);
    return Status::OK();
  });
  // An undecodable record was reported by CheckIndex already.
  return shards.code() == Code::kCorruption ? Status::OK() : shards;
}

Status Verification::MapToCheckpoints() {
  if (pending_.empty()) return Status::OK();
  // A damaged base breaks every delta over it: map through the chains.
  // Manifests name only the named chunks, whose positions sort as their
  // digests do.
  const auto affected = table_.Affected(pending_);
  const auto named_end = std::lower_bound(affected.begin(), affected.end(),
                                          std::make_pair(table_.named(), uint32_t{0}));
  std::vector<std::set<std::string>> ckpts(pending_.size()), tensors(pending_.size());
  CKPT_RETURN_IF_ERROR(ForEachManifest([&](const std::string& label, const Manifest& m) {
    if (affected.begin() == named_end) return;
    for (const auto& e : m.entries)
      for (const auto& d : e.chunks) {
        auto it = std::lower_bound(affected.begin(), named_end, d,
                                   [&](const std::pair<uint32_t, uint32_t>& a, const Digest& b) {
                                     return table_.digest(a.first) < b;
                                   });
        for (; it != named_end && table_.digest(it->first) == d; ++it) {
          ckpts[it->second].insert(label);
          tensors[it->second].insert(label + ":" + e.name);
        }
      }
  }));
  for (size_t i = 0; i < pending_.size(); ++i) {
    VerifyProblem p{pending_[i].status, {}, {}};
    p.checkpoints.assign(ckpts[i].begin(), ckpts[i].end());
    p.tensors.assign(tensors[i].begin(), tensors[i].end());
    std::string touched;
    for (const auto& t : p.tensors) touched += (touched.empty() ? "" : ", ") + t;
    if (!touched.empty())
      p.status = Status(p.status.code(), p.status.message() + "; affects " + touched);
    report_.problems.push_back(std::move(p));
  }
  return Status::OK();
}

Result<VerifyReport> Verification::Run() {
  CKPT_ASSIGN_OR_RETURN(index_, OpenReader(ctx_));
  CKPT_RETURN_IF_ERROR(CheckIndex());
  CKPT_RETURN_IF_ERROR(CheckLog());
  CheckPacks();
  if (options_.read_data) ReadData();
  CKPT_RETURN_IF_ERROR(MapToCheckpoints());
  return report_;
}

}  // namespace

Result<VerifyReport> VerifyStore(StoreContext& ctx, const VerifyOptions& options) {
  Verification v(ctx, options);
  return v.Run();
}

}  // namespace ckpt::internal
