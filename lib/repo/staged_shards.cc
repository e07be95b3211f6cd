#include "repo/staged_shards.h"

#include <charconv>

#include "repo/index_log.h"
#include "repo/ref_resolver.h"

namespace ckpt::internal {
namespace {

bool ParseDecimal(std::string_view text, uint64_t* out) {
  if (text.empty() || text.size() > 19 || (text.size() > 1 && text[0] == '0')) return false;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), *out);
  return ec == std::errc() && end == text.data() + text.size();
}

// Splits "shards/RUN/STEP/WORLD/RANK"; false if it is not such a name.
bool ParseStagedShardName(const std::string& name, std::string* run, uint64_t* step,
                          uint32_t* world_size, uint32_t* rank) {
  std::string_view rest(name);
  if (rest.substr(0, 7) != kStagedShardPrefix) return false;
  rest.remove_prefix(7);
  std::string_view parts[4];
  for (int i = 0; i < 4; ++i) {
    size_t slash = i < 3 ? rest.find('/') : rest.size();
    if (slash == std::string_view::npos || (i == 3 && rest.find('/') != std::string_view::npos))
      return false;
    parts[i] = rest.substr(0, slash);
    rest.remove_prefix(i < 3 ? slash + 1 : slash);
  }
  uint64_t world = 0, r = 0;
  *run = std::string(parts[0]);
  if (!IsValidName(*run) || !ParseDecimal(parts[1], step) || !ParseDecimal(parts[2], &world) ||
      !ParseDecimal(parts[3], &r) || world == 0 || world > UINT32_MAX || r >= world)
    return false;
  *world_size = static_cast<uint32_t>(world);
  *rank = static_cast<uint32_t>(r);
  return true;
}

Status DecodeEntries(const IndexBatch& batch, StagedShard* out) {
  Status error;
  bool has_record = false;
  CKPT_RETURN_IF_ERROR(batch.ForEach(
      [&](std::string_view key, std::string_view value) {
        if (!error.ok()) return;
        if (key.substr(0, 1) == kShardKeys) {
          std::string run;
          uint64_t step = 0;
          uint32_t rank = 0;
          if (has_record || !ParseShardKey(key, &run, &step, &rank) || rank != out->shard.rank) {
            error = Status::Corruption("a shard key that is not its own");
            return;
          }
          has_record = true;
          error = DecodeShardRecord(value, &out->record);
          if (error.ok()) error = DecodeManifest(out->record.manifest, &out->shard.manifest);
          if (error.ok() && (out->shard.manifest.run != run || out->shard.manifest.step != step))
            error = Status::Corruption("its shard key names another checkpoint than its manifest");
        } else if (key.substr(0, 1) == kChunkKeys && key.size() == 1 + Digest::kSize) {
          ChunkLocation loc;
          error = DecodeChunkLocation(value, &loc);
          out->chunks.emplace_back(Digest::FromView(key.substr(1)), std::move(loc));
        } else if (key.substr(0, 1) == kPackKeys && key.size() == 17) {
          PackRecord pack;
          error = DecodePackRecord(value, &pack);
          out->packs.emplace_back(PackIdOfKey(key), pack);
        } else {
          error = Status::Corruption("a key that is neither a shard's, a chunk's nor a pack's");
        }
      },
      [&](std::string_view) {
        if (error.ok()) error = Status::Corruption("a deletion");
      }));
  if (error.ok() && !has_record) error = Status::Corruption("no shard record");
  return error;
}

}  // namespace

std::string StagedShard::Label() const {
  return shard.manifest.run + "@" + std::to_string(shard.manifest.step) + " shard " +
         std::to_string(shard.rank) + " (staged)";
}

std::string StagedShardPrefixOf(const std::string& run, uint64_t step, uint32_t world_size) {
  return kStagedShardPrefix + run + "/" + std::to_string(step) + "/" + std::to_string(world_size) +
         "/";
}

std::string StagedShardName(const std::string& run, uint64_t step, uint32_t world_size,
                            uint32_t rank) {
  return StagedShardPrefixOf(run, step, world_size) + std::to_string(rank);
}

Result<std::string> EncodeStagedShard(const std::string& run, uint64_t step, uint32_t rank,
                                      const ShardRecord& record,
                                      const IndexBatch& chunks_and_packs) {
  IndexBatch batch;
  batch.Put(ShardKey(run, step, rank), EncodeShardRecord(record));
  CKPT_RETURN_IF_ERROR(chunks_and_packs.ForEach(
      [&](std::string_view k, std::string_view v) { batch.Put(k, v); }, [](std::string_view) {}));
  return EncodeLogRecord(0, batch);
}

Result<StagedShard> DecodeStagedShard(const std::string& name, const std::string& bytes) {
  StagedShard out;
  out.name = name;
  std::string run;
  uint64_t step = 0;
  if (!ParseStagedShardName(name, &run, &step, &out.world_size, &out.shard.rank))
    return Status::Corruption("'" + name + "' under " + kStagedShardPrefix +
                              " is not the name of a staged shard");
  const std::string what = "staged shard " + name;
  IndexBatch batch;
  CKPT_RETURN_IF_ERROR(DecodeLogRecord(bytes, 0, what, &batch));
  CKPT_RETURN_IF_ERROR(DecodeEntries(batch, &out).WithContext(what));
  const Manifest& m = out.shard.manifest;
  if (m.run != run || m.step != step || m.world_size != out.world_size)
    return Status::Corruption(what + ": holds a shard of " + m.run + "@" + std::to_string(m.step) +
                              " of world size " + std::to_string(m.world_size));
  return out;
}

Result<std::vector<uint32_t>> StagedRanks(StoreContext& ctx, const std::string& run, uint64_t step,
                                          uint32_t world_size) {
  CKPT_ASSIGN_OR_RETURN(auto names, ctx.backend->List(StagedShardPrefixOf(run, step, world_size)));
  std::vector<uint32_t> ranks;
  for (const auto& name : names) {
    std::string r;
    uint64_t s = 0;
    uint32_t w = 0, rank = 0;
    if (ParseStagedShardName(name, &r, &s, &w, &rank)) ranks.push_back(rank);
  }
  return ranks;
}

namespace {

Result<std::vector<StagedShard>> ReadNamed(StoreContext& ctx,
                                           const std::vector<std::string>& names) {
  std::vector<StagedShard> out(names.size());
  std::vector<Status> errors(names.size());
  ctx.pool->ParallelFor(names.size(), [&](size_t i) {
    auto bytes = ctx.backend->GetWhole(names[i]);
    auto shard = bytes.ok() ? DecodeStagedShard(names[i], *bytes)
                            : Result<StagedShard>(bytes.status().WithContext(names[i]));
    if (shard.ok())
      out[i] = std::move(*shard);
    else
      errors[i] = shard.status();
  });
  for (const Status& s : errors) CKPT_RETURN_IF_ERROR(s);
  return out;
}

}  // namespace

Result<std::vector<StagedShard>> ReadStagedShards(StoreContext& ctx, const std::string& run,
                                                  uint64_t step, uint32_t world_size) {
  std::vector<std::string> names;
  for (uint32_t rank = 0; rank < world_size; ++rank)
    names.push_back(StagedShardName(run, step, world_size, rank));
  return ReadNamed(ctx, names);
}

Result<std::vector<StagedShard>> ReadAllStagedShards(StoreContext& ctx) {
  CKPT_ASSIGN_OR_RETURN(auto names, ctx.backend->List(kStagedShardPrefix));
  return ReadNamed(ctx, names);
}

}  // namespace ckpt::internal
