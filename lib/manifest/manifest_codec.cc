#include "manifest/manifest_codec.h"

#include <cstring>

#include "chunk/chunker.h"
#include "manifest/box.h"
#include "util/bytes.h"

namespace ckpt::internal {

uint64_t Manifest::SpanOf(const ManifestEntry& entry) const {
  return ChunkSpan(chunk_size, entry.is_blob ? 1 : DTypeSize(entry.dtype));
}

const ManifestEntry* Manifest::Find(std::string_view name) const {
  for (const auto& e : entries)
    if (e.name == name) return &e;
  return nullptr;
}

Manifest Manifest::Head() const {
  Manifest head;
  head.run = run;
  head.step = step;
  head.wall_time_ns = wall_time_ns;
  head.parent = parent;
  head.chunk_size = chunk_size;
  head.metrics = metrics;
  head.attributes = attributes;
  head.world_size = world_size;
  return head;
}

bool Manifest::sharded() const {
  if (world_size > 1) return true;
  for (const auto& e : entries)
    if (e.is_piece() || e.local_rank >= 0) return true;
  return false;
}

std::string EncodeManifest(const Manifest& m) {
  const bool v2 = m.sharded();
  std::string out(kManifestMagic, 8);
  PutFixed32(&out, v2 ? kShardedManifestVersion : kManifestVersion);
  PutLengthPrefixed(&out, m.run);
  PutVarint(&out, m.step);
  PutFixed64(&out, static_cast<uint64_t>(m.wall_time_ns));
  PutLengthPrefixed(&out, m.parent ? m.parent->View() : std::string_view());
  PutVarint(&out, m.chunk_size);
  if (v2) PutVarint(&out, m.world_size);
  PutVarint(&out, m.metrics.size());
  for (const auto& [name, value] : m.metrics) {
    PutLengthPrefixed(&out, name);
    uint64_t bits;
    std::memcpy(&bits, &value, 8);
    PutFixed64(&out, bits);
  }
  PutVarint(&out, m.attributes.size());
  for (const auto& [key, value] : m.attributes) {
    PutLengthPrefixed(&out, key);
    PutLengthPrefixed(&out, value);
  }
  PutVarint(&out, m.entries.size());
  for (const auto& e : m.entries) {
    out.push_back(static_cast<char>(e.is_blob ? 1 : e.is_piece() ? 2 : 0));
    PutLengthPrefixed(&out, e.name);
    if (v2) {
      PutVarint(&out, static_cast<uint64_t>(e.local_rank + 1));
      PutVarint(&out, e.writer);
    }
    out.push_back(static_cast<char>(e.dtype));
    PutVarint(&out, e.shape.size());
    for (int64_t d : e.shape) PutVarint(&out, static_cast<uint64_t>(d));
    if (e.is_piece()) {
      for (int64_t d : e.global_shape) PutVarint(&out, static_cast<uint64_t>(d));
      for (int64_t d : e.offsets) PutVarint(&out, static_cast<uint64_t>(d));
    }
    PutVarint(&out, e.byte_length);
    PutVarint(&out, e.chunks.size());
    for (const auto& c : e.chunks) out.append(c.View());
  }
  return out;
}

namespace {

bool GetDims(ByteReader& r, uint64_t rank, std::vector<int64_t>* dims) {
  for (uint64_t i = 0; i < rank; ++i) {
    uint64_t d;
    if (!r.GetVarint(&d) || d > (uint64_t{1} << 62)) return false;
    dims->push_back(static_cast<int64_t>(d));
  }
  return true;
}

// A piece's box must lie in its tensor and hold exactly its bytes: readers
// place its bytes by the box alone.
Status CheckPiece(const ManifestEntry& e) {
  std::string why;
  if (!BoxInside({e.offsets, e.shape}, e.global_shape, &why))
    return Status::Corruption("manifest piece of " + e.name + ": " + why);
  auto elements = ElementCount(e.shape, DTypeSize(e.dtype));
  if (!elements || !ElementCount(e.global_shape, DTypeSize(e.dtype)) ||
      *elements * DTypeSize(e.dtype) != e.byte_length)
    return Status::Corruption("manifest piece of " + e.name + ": box " +
                              BoxToString({e.offsets, e.shape}) + " does not hold " +
                              std::to_string(e.byte_length) + " bytes");
  return Status::OK();
}

Status DecodeEntry(ByteReader& r, uint32_t version, uint32_t world_size, ManifestEntry* e) {
  uint8_t kind, dtype;
  std::string_view name;
  uint64_t rank, chunk_count, scope = 0, writer = 0;
  const uint8_t max_kind = version >= kShardedManifestVersion ? 2 : 1;
  if (!r.GetByte(&kind) || kind > max_kind || !r.GetLengthPrefixed(&name))
    return Status::Corruption("manifest entry header malformed");
  if (version >= kShardedManifestVersion &&
      (!r.GetVarint(&scope) || !r.GetVarint(&writer) || scope > world_size || writer >= world_size))
    return Status::Corruption("manifest entry header malformed");
  if (!r.GetByte(&dtype) || !r.GetVarint(&rank) || rank > 64)
    return Status::Corruption("manifest entry header malformed");
  e->is_blob = kind == 1;
  e->name = std::string(name);
  e->local_rank = static_cast<int32_t>(scope) - 1;
  e->writer = static_cast<uint32_t>(writer);
  auto type = DTypeFromValue(dtype);
  if (!type) return Status::Corruption("manifest entry " + e->name + " has unknown dtype");
  e->dtype = *type;
  if (!GetDims(r, rank, &e->shape)) return Status::Corruption("manifest shape truncated");
  if (kind == 2 && (!GetDims(r, rank, &e->global_shape) || !GetDims(r, rank, &e->offsets) ||
                    rank == 0 || e->local_rank >= 0))
    return Status::Corruption("manifest piece of " + e->name + " malformed");
  if (!r.GetVarint(&e->byte_length) || !r.GetVarint(&chunk_count) ||
      chunk_count > r.remaining() / Digest::kSize)
    return Status::Corruption("manifest entry " + e->name + " truncated");
  if (e->is_piece()) CKPT_RETURN_IF_ERROR(CheckPiece(*e));
  e->chunks.reserve(chunk_count);
  for (uint64_t i = 0; i < chunk_count; ++i) {
    std::string_view d;
    r.GetBytes(Digest::kSize, &d);
    e->chunks.push_back(Digest::FromView(d));
  }
  return Status::OK();
}

}  // namespace

Status DecodeManifest(std::string_view bytes, Manifest* m) {
  *m = Manifest();
  if (bytes.size() < 12 || std::memcmp(bytes.data(), kManifestMagic, 8) != 0)
    return Status::Corruption("not a manifest (bad magic)");
  ByteReader r(bytes.substr(8));
  uint32_t version = 0;
  if (!r.GetFixed32(&version)) return Status::Corruption("manifest is truncated");
  if (version > kShardedManifestVersion)
    return Status::VersionMismatch("manifest version " + std::to_string(version) +
                                   " is newer than supported");
  if (version < kManifestVersion)  // no released format had one
    return Status::Corruption("manifest version " + std::to_string(version) + " is invalid");
  std::string_view run, parent;
  uint64_t wall, chunk_size, count;
  if (!r.GetLengthPrefixed(&run) || !r.GetVarint(&m->step) || !r.GetFixed64(&wall) ||
      !r.GetLengthPrefixed(&parent) || !r.GetVarint(&chunk_size))
    return Status::Corruption("manifest header truncated");
  m->run = std::string(run);
  m->wall_time_ns = static_cast<int64_t>(wall);
  if (chunk_size > UINT32_MAX) return Status::Corruption("manifest chunk size out of range");
  m->chunk_size = static_cast<uint32_t>(chunk_size);
  if (version >= kShardedManifestVersion) {
    uint64_t world_size;
    if (!r.GetVarint(&world_size) || world_size == 0 || world_size > kMaxWorldSize)
      return Status::Corruption("manifest world size malformed");
    m->world_size = static_cast<uint32_t>(world_size);
  }
  if (!r.GetVarint(&count)) return Status::Corruption("manifest header truncated");
  if (parent.size() == Digest::kSize)
    m->parent = Digest::FromView(parent);
  else if (!parent.empty())
    return Status::Corruption("manifest parent id malformed");
  for (uint64_t i = 0; i < count; ++i) {
    std::string_view name;
    uint64_t bits;
    if (!r.GetLengthPrefixed(&name) || !r.GetFixed64(&bits))
      return Status::Corruption("manifest metrics truncated");
    double v;
    std::memcpy(&v, &bits, 8);
    m->metrics[std::string(name)] = v;
  }
  if (!r.GetVarint(&count)) return Status::Corruption("manifest attributes truncated");
  for (uint64_t i = 0; i < count; ++i) {
    std::string_view key, value;
    if (!r.GetLengthPrefixed(&key) || !r.GetLengthPrefixed(&value))
      return Status::Corruption("manifest attributes truncated");
    m->attributes[std::string(key)] = std::string(value);
  }
  if (!r.GetVarint(&count) || count > r.remaining())
    return Status::Corruption("manifest entries truncated");
  m->entries.resize(count);
  if (m->chunk_size == 0) return Status::Corruption("manifest chunk size is zero");
  for (auto& e : m->entries) {
    CKPT_RETURN_IF_ERROR(DecodeEntry(r, version, m->world_size, &e));
    // Readers index chunks by offset / span; a mismatch would read past the list.
    if (e.chunks.size() != ChunkCount(e.byte_length, m->SpanOf(e)))
      return Status::Corruption("manifest entry " + e.name + " has " +
                                std::to_string(e.chunks.size()) + " chunks for " +
                                std::to_string(e.byte_length) + " bytes");
  }
  if (!r.ok() || !r.AtEnd()) return Status::Corruption("manifest has trailing or missing bytes");
  return Status::OK();
}

}  // namespace ckpt::internal
