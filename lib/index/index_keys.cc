#include "index/index_keys.h"

#include <cstdint>
#include <cstdlib>
#include <tuple>

#include "codec/chunk_codec.h"
#include "util/bytes.h"
#include "util/hex.h"

namespace ckpt::internal {

std::string ChunkKey(const Digest& d) { return "C" + std::string(d.View()); }
std::string CheckpointKey(const Digest& id) { return "M" + std::string(id.View()); }
std::string SummaryKey(const Digest& id) { return "I" + std::string(id.View()); }
std::string RunPrefix(std::string_view run) { return "R" + std::string(run) + '\0'; }
std::string TagKey(std::string_view tag) { return "T" + std::string(tag); }

std::string RunStepKey(std::string_view run, uint64_t step) {
  std::string key = RunPrefix(run);
  for (int i = 7; i >= 0; --i) key.push_back(static_cast<char>(step >> (8 * i)));
  return key;
}

bool ParseRunStepKey(std::string_view key, std::string* run, uint64_t* step) {
  if (key.size() < 10 || key[0] != 'R' || key[key.size() - 9] != '\0') return false;
  *run = std::string(key.substr(1, key.size() - 10));
  *step = 0;
  for (size_t i = key.size() - 8; i < key.size(); ++i)
    *step = (*step << 8) | static_cast<uint8_t>(key[i]);
  return true;
}

std::string ShardPrefix(std::string_view run, uint64_t step) {
  return "S" + RunStepKey(run, step).substr(1);
}

std::string ShardKey(std::string_view run, uint64_t step, uint32_t rank) {
  std::string key = ShardPrefix(run, step);
  for (int i = 3; i >= 0; --i) key.push_back(static_cast<char>(rank >> (8 * i)));
  return key;
}

bool ParseShardKey(std::string_view key, std::string* run, uint64_t* step, uint32_t* rank) {
  if (key.size() < 14 || key[0] != 'S') return false;
  if (!ParseRunStepKey("R" + std::string(key.substr(1, key.size() - 5)), run, step)) return false;
  *rank = 0;
  for (size_t i = key.size() - 4; i < key.size(); ++i)
    *rank = (*rank << 8) | static_cast<uint8_t>(key[i]);
  return true;
}

std::string PackKey(const std::string& pack_id) {
  // Pack ids are made by PackWriter (32 hex digits); anything else is a bug.
  auto raw = HexDecode(pack_id);
  if (!raw || raw->size() != 16) std::abort();
  return "P" + std::string(raw->begin(), raw->end());
}

std::string CondemnedKey(const std::string& pack_id) { return "D" + PackKey(pack_id).substr(1); }
std::string GoneKey(const std::string& pack_id) { return "G" + PackKey(pack_id).substr(1); }
std::string PolicyKey(std::string_view run) { return "Y" + std::string(run); }
std::string PackIdOfKey(std::string_view key) { return HexEncode(key.data() + 1, key.size() - 1); }

std::string EncodeChunkLocation(const ChunkLocation& loc) {
  auto raw = HexDecode(loc.pack_id);
  if (!raw || raw->size() != 16) std::abort();
  std::string out(raw->begin(), raw->end());
  PutVarint(&out, loc.offset);
  PutVarint(&out, loc.length);
  PutVarint(&out, loc.raw_length);
  out.push_back(static_cast<char>(loc.codec));
  if (loc.is_delta()) {
    out.append(loc.base.View());
    out.push_back(static_cast<char>(loc.depth));
  }
  return out;
}

Status DecodeChunkLocation(std::string_view bytes, ChunkLocation* out) {
  ByteReader r(bytes);
  std::string_view pack;
  uint64_t length, raw_length;
  if (!r.GetBytes(16, &pack) || !r.GetVarint(&out->offset) || !r.GetVarint(&length) ||
      !r.GetVarint(&raw_length) || !r.GetByte(&out->codec) || length > UINT32_MAX ||
      raw_length > UINT32_MAX)
    return Status::Corruption("index: malformed chunk location");
  out->depth = 0;
  if (IsDeltaCodec(out->codec)) {
    std::string_view base;
    if (!r.GetBytes(Digest::kSize, &base) || !r.GetByte(&out->depth) || out->depth == 0)
      return Status::Corruption("index: malformed delta chunk location");
    out->base = Digest::FromView(base);
  }
  if (!r.AtEnd()) return Status::Corruption("index: malformed chunk location");
  out->pack_id = HexEncode(pack.data(), pack.size());
  out->length = static_cast<uint32_t>(length);
  out->raw_length = static_cast<uint32_t>(raw_length);
  return Status::OK();
}

std::string EncodeCheckpointRecord(const CheckpointRecord& rec) {
  std::string out;
  PutVarint(&out, rec.new_bytes);
  PutVarint(&out, rec.new_raw_bytes);
  PutVarint(&out, rec.shared_bytes);
  PutLengthPrefixed(&out, EncodeChunkLocation(rec.manifest_location));
  PutLengthPrefixed(&out, rec.manifest);
  return out;
}

Status DecodeCheckpointRecord(std::string_view bytes, CheckpointRecord* out) {
  ByteReader r(bytes);
  std::string_view manifest, location;
  if (!r.GetVarint(&out->new_bytes) || !r.GetVarint(&out->new_raw_bytes) ||
      !r.GetVarint(&out->shared_bytes) || !r.GetLengthPrefixed(&location) ||
      !r.GetLengthPrefixed(&manifest) || !r.AtEnd())
    return Status::Corruption("index: malformed checkpoint record");
  CKPT_RETURN_IF_ERROR(DecodeChunkLocation(location, &out->manifest_location));
  out->manifest = std::string(manifest);
  return Status::OK();
}

bool CheckpointSummary::operator==(const CheckpointSummary& o) const {
  return std::tie(tensor_count, blob_count, logical_bytes, new_bytes, new_raw_bytes, shared_bytes,
                  head) == std::tie(o.tensor_count, o.blob_count, o.logical_bytes, o.new_bytes,
                                    o.new_raw_bytes, o.shared_bytes, o.head);
}

std::string EncodeCheckpointSummary(const CheckpointSummary& summary) {
  std::string out;
  for (uint64_t v : {summary.tensor_count, summary.blob_count, summary.logical_bytes,
                     summary.new_bytes, summary.new_raw_bytes, summary.shared_bytes})
    PutVarint(&out, v);
  PutLengthPrefixed(&out, summary.head);
  return out;
}

Status DecodeCheckpointSummary(std::string_view bytes, CheckpointSummary* out) {
  ByteReader r(bytes);
  std::string_view head;
  if (!r.GetVarint(&out->tensor_count) || !r.GetVarint(&out->blob_count) ||
      !r.GetVarint(&out->logical_bytes) || !r.GetVarint(&out->new_bytes) ||
      !r.GetVarint(&out->new_raw_bytes) || !r.GetVarint(&out->shared_bytes) ||
      !r.GetLengthPrefixed(&head) || !r.AtEnd())
    return Status::Corruption("index: malformed checkpoint summary");
  out->head = std::string(head);
  return Status::OK();
}

std::string EncodeShardRecord(const ShardRecord& rec) {
  std::string out;
  PutFixed64(&out, static_cast<uint64_t>(rec.recorded_at_ns));
  PutVarint(&out, rec.new_bytes);
  PutVarint(&out, rec.new_raw_bytes);
  PutVarint(&out, rec.shared_bytes);
  PutLengthPrefixed(&out, rec.manifest);
  return out;
}

Status DecodeShardRecord(std::string_view bytes, ShardRecord* out) {
  ByteReader r(bytes);
  uint64_t at;
  std::string_view manifest;
  if (!r.GetFixed64(&at) || !r.GetVarint(&out->new_bytes) || !r.GetVarint(&out->new_raw_bytes) ||
      !r.GetVarint(&out->shared_bytes) || !r.GetLengthPrefixed(&manifest) || !r.AtEnd())
    return Status::Corruption("index: malformed shard record");
  out->recorded_at_ns = static_cast<int64_t>(at);
  out->manifest = std::string(manifest);
  return Status::OK();
}

std::string EncodePackRecord(const PackRecord& rec) {
  std::string out;
  PutVarint(&out, rec.size);
  PutVarint(&out, rec.entry_count);
  return out;
}

Status DecodePackRecord(std::string_view bytes, PackRecord* out) {
  ByteReader r(bytes);
  if (!r.GetVarint(&out->size) || !r.GetVarint(&out->entry_count) || !r.AtEnd())
    return Status::Corruption("index: malformed pack record");
  return Status::OK();
}

}  // namespace ckpt::internal
