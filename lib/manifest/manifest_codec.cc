#include "manifest/manifest_codec.h"

#include <cstring>

#include "chunk/chunker.h"
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

std::string EncodeManifest(const Manifest& m) {
  std::string out(kManifestMagic, 8);
  PutFixed32(&out, kManifestVersion);
  PutLengthPrefixed(&out, m.run);
  PutVarint(&out, m.step);
  PutFixed64(&out, static_cast<uint64_t>(m.wall_time_ns));
  PutLengthPrefixed(&out, m.parent ? m.parent->View() : std::string_view());
  PutVarint(&out, m.chunk_size);
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
    out.push_back(static_cast<char>(e.is_blob ? 1 : 0));
    PutLengthPrefixed(&out, e.name);
    out.push_back(static_cast<char>(e.dtype));
    PutVarint(&out, e.shape.size());
    for (int64_t d : e.shape) PutVarint(&out, static_cast<uint64_t>(d));
    PutVarint(&out, e.byte_length);
    PutVarint(&out, e.chunks.size());
    for (const auto& c : e.chunks) out.append(c.View());
  }
  return out;
}

namespace {

Status DecodeEntry(ByteReader& r, ManifestEntry* e) {
  uint8_t kind, dtype;
  std::string_view name;
  uint64_t rank, chunk_count;
  if (!r.GetByte(&kind) || kind > 1 || !r.GetLengthPrefixed(&name) || !r.GetByte(&dtype) ||
      !r.GetVarint(&rank) || rank > 64)
    return Status::Corruption("manifest entry header malformed");
  e->is_blob = kind == 1;
  e->name = std::string(name);
  auto type = DTypeFromValue(dtype);
  if (!type) return Status::Corruption("manifest entry " + e->name + " has unknown dtype");
  e->dtype = *type;
  for (uint64_t i = 0; i < rank; ++i) {
    uint64_t d;
    if (!r.GetVarint(&d)) return Status::Corruption("manifest shape truncated");
    e->shape.push_back(static_cast<int64_t>(d));
  }
  if (!r.GetVarint(&e->byte_length) || !r.GetVarint(&chunk_count) ||
      chunk_count > r.remaining() / Digest::kSize)
    return Status::Corruption("manifest entry " + e->name + " truncated");
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
  if (version > kManifestVersion)
    return Status::VersionMismatch("manifest version " + std::to_string(version) +
                                   " is newer than supported");
  if (version < kManifestVersion)  // no released format had one
    return Status::Corruption("manifest version " + std::to_string(version) + " is invalid");
  std::string_view run, parent;
  uint64_t wall, chunk_size, count;
  if (!r.GetLengthPrefixed(&run) || !r.GetVarint(&m->step) || !r.GetFixed64(&wall) ||
      !r.GetLengthPrefixed(&parent) || !r.GetVarint(&chunk_size) || !r.GetVarint(&count))
    return Status::Corruption("manifest header truncated");
  m->run = std::string(run);
  m->wall_time_ns = static_cast<int64_t>(wall);
  if (chunk_size > UINT32_MAX) return Status::Corruption("manifest chunk size out of range");
  m->chunk_size = static_cast<uint32_t>(chunk_size);
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
    CKPT_RETURN_IF_ERROR(DecodeEntry(r, &e));
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
