#include "store/verifier.h"

#include <algorithm>
#include <functional>
#include <map>
#include <set>
#include <unordered_map>

#include "pack/pack_writer.h"
#include "repo/config.h"
#include "repo/index_log.h"
#include "repo/index_sessions.h"
#include "repo/loader.h"
#include "repo/pending_shards.h"

namespace ckpt::internal {
namespace {

struct ChunkRef {
  Digest digest;
  ChunkLocation loc;
};

// A problem before it is mapped to the checkpoints it touches.
struct PendingProblem {
  Status status;
  std::set<Digest> chunks;  // the chunks it makes unreadable
};

class Verification {
 public:
  Verification(StoreContext& ctx, const VerifyOptions& options) : ctx_(ctx), options_(options) {}

  Result<VerifyReport> Run();

 private:
  Status CheckIndex();
  // Looks up every chunk of `m` and its chain; records missing ones.
  Status AddChunksOf(const Manifest& m, std::set<Digest>* missing);
  // Calls fn(label, manifest) for every checkpoint and pending shard that
  // decodes ("run@step", "run@step shard R (pending)").
  Status ForEachManifest(const std::function<void(const std::string&, const Manifest&)>& fn);
  // Adds the bases under delta chunk `d` to chunks_, checking each link.
  Status AddChain(const Digest& d, ChunkLocation loc);
  // Every chunk whose chain runs through one of `chunks`, and those.
  std::set<Digest> WithDependents(const std::set<Digest>& chunks) const;
  // A store in object storage: the bucket's index log, which every new
  // host replays, even where this host applied it long ago.
  Status CheckLog();
  void CheckPacks();
  void ReadData();
  Status MapToCheckpoints();

  StoreContext& ctx_;
  const VerifyOptions& options_;
  std::unique_ptr<Index> index_;  // one view for the whole run: a consistent snapshot
  VerifyReport report_;
  std::unordered_map<Digest, ChunkLocation, DigestHash> chunks_;
  std::vector<PendingProblem> pending_;
  std::set<std::string> bad_packs_;
};

Status Verification::AddChain(const Digest& d, ChunkLocation loc) {
  Digest top = d;
  for (int hops = 0; loc.is_delta(); ++hops) {
    const Digest base = loc.base;
    if (chunks_.count(base)) return Status::OK();  // walked from another chunk already
    const std::string link = "delta chunk " + top.ShortHex() + ": base " + base.ShortHex();
    auto found = index_->FindChunk(base);
    if (!found.ok() && found.status().code() != Code::kCorruption) return found.status();
    if (!found.ok() || !*found) {
      pending_.push_back({Status::Corruption(link + " is missing from the index"), {top}});
      return Status::OK();
    }
    const ChunkLocation base_loc = **found;
    if (base_loc.depth >= loc.depth || hops >= kMaxDeltaDepth) {
      pending_.push_back({Status::Corruption(link + " breaks the chain's depth order"), {top}});
      return Status::OK();
    }
    chunks_.emplace(base, base_loc);
    top = base;
    loc = base_loc;
  }
  return Status::OK();
}

std::set<Digest> Verification::WithDependents(const std::set<Digest>& chunks) const {
  std::unordered_map<Digest, std::vector<Digest>, DigestHash> dependents;
  for (const auto& [d, loc] : chunks_)
    if (loc.is_delta()) dependents[loc.base].push_back(d);
  std::set<Digest> out = chunks;
  std::vector<Digest> unvisited(chunks.begin(), chunks.end());
  while (!unvisited.empty()) {
    Digest d = unvisited.back();
    unvisited.pop_back();
    auto it = dependents.find(d);
    if (it == dependents.end()) continue;
    for (const Digest& dep : it->second)
      if (out.insert(dep).second) unvisited.push_back(dep);
  }
  return out;
}

Status Verification::AddChunksOf(const Manifest& m, std::set<Digest>* missing) {
  for (const auto& e : m.entries) {
    for (const auto& d : e.chunks) {
      if (chunks_.count(d) || missing->count(d)) continue;
      auto found = index_->FindChunk(d);
      if (!found.ok() && found.status().code() != Code::kCorruption) return found.status();
      if (!found.ok() || !*found) {
        missing->insert(d);
        continue;
      }
      const ChunkLocation loc = **found;
      chunks_.emplace(d, loc);
      CKPT_RETURN_IF_ERROR(AddChain(d, loc));
    }
  }
  return Status::OK();
}

Status Verification::CheckIndex() {
  Status scan_error;
  std::set<Digest> missing;
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
    scan_error = AddChunksOf(m, &missing);
    if (options_.progress && !options_.read_data)
      options_.progress(report_.checkpoints_checked, report_.checkpoints_checked);
    return scan_error.ok();
  }));
  CKPT_RETURN_IF_ERROR(scan_error);
  // Shards of sharded checkpoints still being written: their chunks are
  // indexed and will be named by the checkpoint.
  Status shards = ForEachPendingShard(*index_, [&](PendingShard& p) {
    report_.pending_shards_checked++;
    return AddChunksOf(p.shard.manifest, &missing);
  });
  if (!shards.ok() && shards.code() != Code::kCorruption) return shards;
  if (!shards.ok()) report_.problems.push_back({shards, {}, {}});
  for (const auto& d : missing)
    pending_.push_back(
        {Status::Corruption("chunk " + d.ShortHex() + " is missing from the index"), {d}});
  return Status::OK();
}

Status Verification::CheckLog() {
  if (!ctx_.shared_index) return Status::OK();
  std::vector<Status> problems;
  CKPT_RETURN_IF_ERROR(internal::CheckLog(ctx_, options_.read_data, &problems));
  for (Status& s : problems) pending_.push_back({std::move(s), {}});
  return Status::OK();
}

void Verification::CheckPacks() {
  std::map<std::string, std::set<Digest>> by_pack;
  for (const auto& [d, loc] : chunks_) by_pack[loc.pack_id].insert(d);
  for (auto& [pack, digests] : by_pack) {
    Status s;
    auto size = ctx_.backend->Size(PackObjectName(pack));
    auto rec = index_->Get(PackKey(pack));
    PackRecord record;
    if (!size.ok()) {
      s = size.status();
    } else if (rec.ok() && *rec && DecodePackRecord(**rec, &record).ok() && record.size != *size) {
      s = Status::Corruption("size " + std::to_string(*size) + " differs from the indexed " +
                             std::to_string(record.size));
    } else if (options_.read_data) {
      std::vector<PackEntry> entries;
      uint64_t file_size;
      s = ReadPackIndex(*ctx_.backend, pack, &entries, &file_size);
    }
    if (!s.ok()) {
      bad_packs_.insert(pack);
      pending_.push_back({s.WithContext("pack " + pack), std::move(digests)});
    }
  }
}

void Verification::ReadData() {
  std::vector<ChunkRef> refs;
  uint64_t total = 0;
  for (const auto& [d, loc] : chunks_) {
    if (bad_packs_.count(loc.pack_id)) continue;
    refs.push_back({d, loc});
    total += loc.length;
  }
  std::sort(refs.begin(), refs.end(), [](const ChunkRef& a, const ChunkRef& b) {
    return std::tie(a.loc.pack_id, a.loc.offset) < std::tie(b.loc.pack_id, b.loc.offset);
  });
  std::mutex mu;
  ctx_.pool->ParallelFor(refs.size(), [&](size_t i) {
    std::vector<uint8_t> buffer(refs[i].loc.raw_length);
    Status s = ReadChunk(ctx_, *index_, refs[i].digest, refs[i].loc.raw_length, buffer.data());
    std::lock_guard<std::mutex> lock(mu);
    report_.chunks_checked++;
    report_.bytes_read += refs[i].loc.length;
    if (!s.ok()) pending_.push_back({s, {refs[i].digest}});
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
  std::map<Digest, std::vector<size_t>> problems_of;
  for (size_t i = 0; i < pending_.size(); ++i)
    for (const auto& d : WithDependents(pending_[i].chunks)) problems_of[d].push_back(i);
  std::vector<std::set<std::string>> ckpts(pending_.size()), tensors(pending_.size());
  CKPT_RETURN_IF_ERROR(ForEachManifest([&](const std::string& label, const Manifest& m) {
    for (const auto& e : m.entries)
      for (const auto& d : e.chunks) {
        auto it = problems_of.find(d);
        if (it == problems_of.end()) continue;
        for (size_t p : it->second) {
          ckpts[p].insert(label);
          tensors[p].insert(label + ":" + e.name);
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
