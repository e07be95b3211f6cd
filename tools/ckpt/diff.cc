#include "diff.h"

#include <algorithm>
#include <map>

namespace ckpt::cli {

std::vector<uint64_t> ChunkLengths(const EntryInfo& entry, uint32_t chunk_size) {
  std::vector<uint64_t> lengths;
  if (entry.chunk_count == 0) return lengths;
  // The store cuts tensors at whole elements: the chunk size rounded down to
  // a multiple of the element size (blobs are bytes).
  uint64_t elem = entry.is_blob ? 1 : DTypeSize(entry.dtype);
  uint64_t cut = std::max<uint64_t>(elem, chunk_size / elem * elem);
  uint64_t expected = (entry.byte_length + cut - 1) / cut;
  if (expected != entry.chunk_count) {
    // Not cut the way we assumed (another chunking, or a config we cannot
    // see): fall back to equal parts, which is right for all but the tail.
    cut = (entry.byte_length + entry.chunk_count - 1) / entry.chunk_count;
  }
  uint64_t offset = 0;
  for (uint32_t i = 0; i < entry.chunk_count; ++i) {
    uint64_t len = offset < entry.byte_length ? std::min(cut, entry.byte_length - offset) : 0;
    lengths.push_back(len);
    offset += len;
  }
  return lengths;
}

static EntryChange Compare(const EntryInfo& from, const EntryInfo& to, uint32_t chunk_size) {
  EntryChange c;
  c.name = to.name;
  c.from = &from;
  c.to = &to;
  c.type_changed = from.is_blob != to.is_blob || from.dtype != to.dtype || from.shape != to.shape;
  std::vector<uint64_t> lengths = ChunkLengths(to, chunk_size);
  for (size_t i = 0; i < lengths.size(); ++i) {
    bool same = i < from.chunk_ids.size() && i < to.chunk_ids.size() &&
                from.chunk_ids[i] == to.chunk_ids[i];
    if (same) continue;
    c.bytes_changed += lengths[i];
    ++c.chunks_changed;
  }
  return c;
}

CheckpointDiff DiffCheckpoints(const CheckpointDetail& from, const CheckpointDetail& to,
                               uint32_t chunk_size) {
  std::map<std::string, const EntryInfo*> old_entries;
  for (const auto& e : from.entries) old_entries[e.name] = &e;

  CheckpointDiff diff;
  for (const auto& e : to.entries) {
    diff.bytes_total += e.byte_length;
    auto it = old_entries.find(e.name);
    if (it == old_entries.end()) {
      EntryChange c;
      c.name = e.name;
      c.to = &e;
      c.bytes_changed = e.byte_length;
      c.chunks_changed = e.chunk_count;
      diff.bytes_changed += c.bytes_changed;
      diff.added.push_back(std::move(c));
      continue;
    }
    EntryChange c = Compare(*it->second, e, chunk_size);
    old_entries.erase(it);
    // A tensor shrunk to a prefix of itself has all its chunks in common but
    // still differs.
    bool shrunk = c.from->chunk_count != e.chunk_count;
    if (c.chunks_changed == 0 && !c.type_changed && !shrunk) {
      ++diff.unchanged;
      continue;
    }
    diff.bytes_changed += c.bytes_changed;
    diff.changed.push_back(std::move(c));
  }
  // What is left was removed; report it in the old checkpoint's order.
  for (const auto& e : from.entries) {
    if (old_entries.count(e.name) == 0) continue;
    EntryChange c;
    c.name = e.name;
    c.from = &e;
    diff.removed.push_back(std::move(c));
  }
  return diff;
}

}  // namespace ckpt::cli
