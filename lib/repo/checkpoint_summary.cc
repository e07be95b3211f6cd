#include "repo/checkpoint_summary.h"

#include <optional>
#include <set>
#include <unordered_map>

#include "repo/ref_resolver.h"

namespace ckpt::internal {
namespace {

void CountEntries(const Manifest& m, CheckpointSummary* s) {
  std::set<std::string_view> pieced;  // a global tensor in pieces counts once
  for (const auto& e : m.entries) {
    if (!e.is_piece() || pieced.insert(e.name).second)
      (e.is_blob ? s->blob_count : s->tensor_count)++;
    s->logical_bytes += e.byte_length;
  }
}

// Takes `head`'s strings and maps: a listing of 10,000 checkpoints made
// each anew cost a tenth of `ckpt log`'s time in page faults.
CheckpointInfo MakeInfoOf(const Digest& id, Manifest&& head, const CheckpointSummary& s,
                          std::vector<std::string> tags) {
  CheckpointInfo info;
  info.id = id.Hex();
  info.run = std::move(head.run);
  info.step = head.step;
  if (head.parent) info.parent_id = head.parent->Hex();
  info.meta.metrics = std::move(head.metrics);
  info.meta.attributes = std::move(head.attributes);
  info.meta.wall_time_ns = head.wall_time_ns;
  info.tags = std::move(tags);
  info.world_size = head.world_size;
  info.tensor_count = s.tensor_count;
  info.blob_count = s.blob_count;
  info.logical_bytes = s.logical_bytes;
  info.new_bytes = s.new_bytes;
  info.new_raw_bytes = s.new_raw_bytes;
  info.shared_bytes = s.shared_bytes;
  return info;
}

CheckpointSummary CountsOf(const CheckpointRecord& record, const Manifest& manifest) {
  CheckpointSummary s;
  CountEntries(manifest, &s);
  s.new_bytes = record.new_bytes;
  s.new_raw_bytes = record.new_raw_bytes;
  s.shared_bytes = record.shared_bytes;
  return s;
}

std::vector<std::string> TagsOf(const Digest& id,
                                const std::multimap<std::string, std::string>& tags_by_id) {
  std::vector<std::string> tags;
  auto [lo, hi] = tags_by_id.equal_range(id.Hex());
  for (auto it = lo; it != hi; ++it) tags.push_back(it->second);
  return tags;
}

// The public listing of checkpoint `id` from its summary.
Result<CheckpointInfo> InfoFromSummary(const Digest& id, const CheckpointSummary& summary,
                                       std::vector<std::string> tags) {
  Manifest head;
  CKPT_RETURN_IF_ERROR(
      DecodeManifest(summary.head, &head).WithContext("summary of checkpoint " + id.ShortHex()));
  return MakeInfoOf(id, std::move(head), summary, std::move(tags));
}

using SummaryMap = std::unordered_map<Digest, std::string, DigestHash>;

// Every summary in the index, when `ids` are many: one scan of the 'I'
// keys (a few hundred bytes each) beats a lookup per checkpoint, which
// was a quarter of `ckpt log`'s time at 10,000 checkpoints. None (look
// each up) when they are few.
Result<std::optional<SummaryMap>> SummariesOf(Index& index, const std::vector<Digest>& ids) {
  constexpr size_t kScanAbove = 256;
  if (ids.size() <= kScanAbove) return std::optional<SummaryMap>();
  SummaryMap all;
  CKPT_RETURN_IF_ERROR(index.Scan(kSummaryKeys, [&](std::string_view k, std::string_view v) {
    if (k.size() == 1 + Digest::kSize) all.emplace(Digest::FromView(k.substr(1)), v);
    return true;
  }));
  return std::optional<SummaryMap>(std::move(all));
}

}  // namespace

CheckpointSummary SummarizeCheckpoint(const CheckpointRecord& record, const Manifest& manifest) {
  CheckpointSummary s = CountsOf(record, manifest);
  s.head = EncodeManifest(manifest.Head());
  return s;
}

CheckpointInfo MakeInfo(const ResolvedCheckpoint& c, std::vector<std::string> tags) {
  return MakeInfoOf(c.id, c.manifest.Head(), CountsOf(c.record, c.manifest), std::move(tags));
}

void PutCheckpointRecord(IndexBatch* batch, const Digest& id, const CheckpointRecord& record,
                         const Manifest& manifest) {
  batch->Put(CheckpointKey(id), EncodeCheckpointRecord(record));
  batch->Put(SummaryKey(id), EncodeCheckpointSummary(SummarizeCheckpoint(record, manifest)));
}

void DeleteCheckpointKeys(IndexBatch* batch, const Digest& id, const std::string& run,
                          uint64_t step) {
  batch->Delete(CheckpointKey(id));
  batch->Delete(SummaryKey(id));
  batch->Delete(RunStepKey(run, step));
}

Result<std::vector<CheckpointInfo>> LoadInfos(
    Index& index, const std::vector<Digest>& ids,
    const std::multimap<std::string, std::string>& tags_by_id, std::vector<Digest>* unsummarized) {
  std::vector<CheckpointInfo> out;
  out.reserve(ids.size());
  CKPT_ASSIGN_OR_RETURN(auto summaries, SummariesOf(index, ids));
  for (const auto& id : ids) {
    std::optional<std::string> value;
    if (summaries) {
      auto it = summaries->find(id);
      if (it != summaries->end()) value = std::move(it->second);
    } else {
      CKPT_ASSIGN_OR_RETURN(value, index.Get(SummaryKey(id)));
    }
    if (!value) {
      CKPT_ASSIGN_OR_RETURN(auto c, LoadCheckpoint(index, id));
      out.push_back(MakeInfo(c, TagsOf(id, tags_by_id)));
      if (unsummarized) unsummarized->push_back(id);
      continue;
    }
    CheckpointSummary summary;
    CKPT_RETURN_IF_ERROR(
        DecodeCheckpointSummary(*value, &summary).WithContext("checkpoint " + id.ShortHex()));
    CKPT_ASSIGN_OR_RETURN(auto info, InfoFromSummary(id, summary, TagsOf(id, tags_by_id)));
    out.push_back(std::move(info));
  }
  return out;
}

Result<uint64_t> WriteMissingSummaries(Index& index, const std::vector<Digest>& ids) {
  IndexBatch batch;
  uint64_t written = 0;
  for (const auto& id : ids) {
    CKPT_ASSIGN_OR_RETURN(auto summary, index.Get(SummaryKey(id)));
    if (summary) continue;
    auto c = LoadCheckpoint(index, id);
    if (!c.ok() && c.status().code() == Code::kNotFound) continue;  // removed meanwhile
    if (!c.ok()) return c.status();
    batch.Put(SummaryKey(id), EncodeCheckpointSummary(SummarizeCheckpoint(c->record, c->manifest)));
    written++;
  }
  // An empty commit would still append a record to a bucket's index log.
  if (written > 0) CKPT_RETURN_IF_ERROR(index.Commit(batch));
  return written;
}

}  // namespace ckpt::internal
