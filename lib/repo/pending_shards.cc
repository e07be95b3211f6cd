#include "repo/pending_shards.h"

namespace ckpt::internal {
namespace {

Status ScanShards(Index& index, std::string_view prefix,
                  const std::function<Status(PendingShard&)>& fn) {
  Status error;
  CKPT_RETURN_IF_ERROR(index.Scan(prefix, [&](std::string_view k, std::string_view v) {
    PendingShard p;
    p.key = std::string(k);
    std::string run;
    uint64_t step;
    if (!ParseShardKey(k, &run, &step, &p.shard.rank))
      error = Status::Corruption("index: malformed shard key");
    if (error.ok()) error = DecodeShardRecord(v, &p.record);
    if (error.ok()) error = DecodeManifest(p.record.manifest, &p.shard.manifest);
    if (error.ok() && (p.shard.manifest.run != run || p.shard.manifest.step != step))
      error = Status::Corruption("index: shard record of " + run + "@" + std::to_string(step) +
                                 " holds another checkpoint's manifest");
    if (!error.ok()) {
      error = error.WithContext("pending shard " + std::to_string(p.shard.rank) + " of " + run +
                                "@" + std::to_string(step));
      return false;
    }
    error = fn(p);
    return error.ok();
  }));
  return error;
}

}  // namespace

Result<std::vector<PendingShard>> PendingShardsOf(Index& index, const std::string& run,
                                                  uint64_t step) {
  std::vector<PendingShard> out;
  CKPT_RETURN_IF_ERROR(ScanShards(index, ShardPrefix(run, step), [&](PendingShard& p) {
    out.push_back(std::move(p));
    return Status::OK();
  }));
  return out;
}

Status ForEachPendingShard(Index& index, const std::function<Status(PendingShard&)>& fn) {
  return ScanShards(index, kShardKeys, fn);
}

}  // namespace ckpt::internal
