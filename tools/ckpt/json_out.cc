#include "json_out.h"

#include "format.h"

namespace ckpt::cli {

using nlohmann::json;

json StatusJson(const Status& status) {
  return {{"code", static_cast<int>(status.code())},
          {"name", CodeName(status.code())},
          {"message", status.message()}};
}

json ErrorJson(const Status& status) { return {{"error", StatusJson(status)}}; }

json InfoJson(const CheckpointInfo& info) {
  return {
      {"id", info.id},
      {"run", info.run},
      {"step", info.step},
      {"parent_id", info.parent_id},
      {"wall_time_ns", info.meta.wall_time_ns},
      {"time", UtcTime(info.meta.wall_time_ns)},
      {"metrics", info.meta.metrics},
      {"attributes", info.meta.attributes},
      {"tags", info.tags},
      {"tensor_count", info.tensor_count},
      {"blob_count", info.blob_count},
      {"logical_bytes", info.logical_bytes},
      {"new_bytes", info.new_bytes},
      {"new_raw_bytes", info.new_raw_bytes},
      {"shared_bytes", info.shared_bytes},
      {"dedup_ratio", DedupRatio(info)},
      {"world_size", info.world_size},
  };
}

json EntryJson(const EntryInfo& entry) {
  json j = {
      {"name", entry.name},
      {"kind", entry.is_blob ? "blob" : "tensor"},
      {"byte_length", entry.byte_length},
      {"chunk_count", entry.chunk_count},
      {"chunk_ids", entry.chunk_ids},
  };
  if (!entry.is_blob) {
    j["dtype"] = std::string(DTypeName(entry.dtype));
    j["shape"] = entry.shape;
  }
  if (entry.local_rank >= 0) j["local_rank"] = entry.local_rank;
  if (!entry.pieces.empty()) {
    json pieces = json::array();
    for (const auto& p : entry.pieces)
      pieces.push_back({{"writer_rank", p.writer_rank},
                        {"offsets", p.offsets},
                        {"shape", p.shape},
                        {"byte_length", p.byte_length},
                        {"chunk_ids", p.chunk_ids}});
    j["pieces"] = std::move(pieces);
  } else {
    j["writer_rank"] = entry.writer_rank;
  }
  return j;
}

json DetailJson(const CheckpointDetail& detail) {
  json j = InfoJson(detail.info);
  json entries = json::array();
  for (const auto& e : detail.entries) entries.push_back(EntryJson(e));
  j["entries"] = std::move(entries);
  return j;
}

json ConfigJson(const StoreConfig& config) {
  return {{"format_version", config.format_version},
          {"chunk_size", config.chunk_size},
          {"zstd_level", config.zstd_level},
          {"delta_max_depth", config.delta_max_depth},
          {"store_id", config.store_id}};
}

json StatsJson(const StoreStats& s) {
  return {
      {"runs", s.runs},
      {"checkpoints", s.checkpoints},
      {"tags", s.tags},
      {"chunks", s.chunks},
      {"packs", s.packs},
      {"logical_bytes", s.logical_bytes},
      {"unique_raw_bytes", s.unique_raw_bytes},
      {"stored_chunk_bytes", s.stored_chunk_bytes},
      {"pack_bytes", s.pack_bytes},
      {"delta_chunks", s.delta_chunks},
      {"delta_raw_bytes", s.delta_raw_bytes},
      {"delta_stored_bytes", s.delta_stored_bytes},
      {"max_delta_depth", s.max_delta_depth},
      {"dedup_ratio", s.DedupRatio()},
      {"compression_ratio", s.CompressionRatio()},
  };
}

json VerifyJson(const VerifyReport& report) {
  json problems = json::array();
  for (const auto& p : report.problems) {
    problems.push_back(
        {{"error", StatusJson(p.status)}, {"checkpoints", p.checkpoints}, {"tensors", p.tensors}});
  }
  return {{"ok", report.ok()},
          {"checkpoints_checked", report.checkpoints_checked},
          {"pending_shards_checked", report.pending_shards_checked},
          {"chunks_checked", report.chunks_checked},
          {"bytes_read", report.bytes_read},
          {"problems", std::move(problems)}};
}

json RepairJson(const RepairReport& r) {
  return {{"packs_scanned", r.packs_scanned},
          {"packs_unreadable", r.packs_unreadable},
          {"chunks_indexed", r.chunks_indexed},
          {"chunks_unrecoverable", r.chunks_unrecoverable},
          {"checkpoints_restored", r.checkpoints_restored},
          {"tags_restored", r.tags_restored}};
}

json PolicyJson(const RetentionPolicy& p) {
  json best = json::array();
  for (const auto& b : p.keep_best) {
    best.push_back({{"count", b.count}, {"metric", b.metric}, {"minimize", b.minimize}});
  }
  return {{"keep_last", p.keep_last},
          {"keep_every_steps", p.keep_every_steps},
          {"keep_within_seconds", p.keep_within_seconds},
          {"keep_hourly", p.keep_hourly},
          {"keep_daily", p.keep_daily},
          {"keep_weekly", p.keep_weekly},
          {"keep_monthly", p.keep_monthly},
          {"keep_best", std::move(best)},
          {"flags", p.ToString()}};
}

json DecisionJson(const RetentionDecision& d) {
  return {{"run", d.checkpoint.run},
          {"step", d.checkpoint.step},
          {"id", d.checkpoint.id},
          {"keep", d.keep()},
          {"reasons", d.reasons}};
}

json GcJson(const GcReport& r) {
  json decisions = json::array();
  uint64_t to_remove = 0;
  for (const auto& d : r.decisions) {
    decisions.push_back(DecisionJson(d));
    if (!d.keep()) ++to_remove;
  }
  json steps = json::object();
  for (const auto& [step, seconds] : r.step_seconds) steps[step] = seconds;
  return {{"dry_run", r.dry_run},
          {"decisions", std::move(decisions)},
          {"runs_without_policy", r.runs_without_policy},
          // What the plan removes; checkpoints_removed is what was removed
          // (a dry run: what would be; a tag set during gc keeps its checkpoint).
          {"checkpoints_to_remove", to_remove},
          {"checkpoints_removed", r.checkpoints_removed},
          {"chunks_removed", r.chunks_removed},
          {"bytes_unreferenced", r.bytes_unreferenced},
          {"packs_repacked", r.packs_repacked},
          {"packs_damaged", r.packs_damaged},
          {"bytes_repacked", r.bytes_repacked},
          {"packs_deleted", r.packs_deleted},
          {"orphan_packs_deleted", r.orphan_packs_deleted},
          {"bytes_deleted", r.bytes_deleted},
          {"packs_pending", r.packs_pending},
          {"abandoned_writes_deleted", r.abandoned_writes_deleted},
          {"abandoned_shards_removed", r.abandoned_shards_removed},
          {"abandoned_bytes_deleted", r.abandoned_bytes_deleted},
          {"index_compacted", r.index_compacted},
          {"log_snapshot", r.log_snapshot},
          {"step_seconds", std::move(steps)}};
}

}  // namespace ckpt::cli
