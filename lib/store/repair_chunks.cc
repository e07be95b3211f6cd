// store/repair_chunks: repair's table of the chunks found in packs.
#include "store/repair_chunks.h"

#include <algorithm>

#include "repo/config.h"

namespace ckpt::internal {

namespace {

// Finds `d` in `table`, sorted by digest and holding each digest once.
template <typename Table>
auto FindIn(Table& table, const Digest& d) -> decltype(&table.front()) {
  auto it = std::lower_bound(table.begin(), table.end(), d,
                             [](const auto& c, const Digest& key) { return c.digest < key; });
  return it != table.end() && it->digest == d ? &*it : nullptr;
}

}  // namespace

uint32_t RepairChunks::AddPack(const std::string& id) {
  pack_ids_.push_back(id);
  return static_cast<uint32_t>(pack_ids_.size() - 1);
}

void RepairChunks::AddWhole(const PackEntry& e) {
  Whole w;
  w.digest = e.digest;
  w.length = e.length;
  w.order = order_++;
  w.seen = 0;
  wholes_.push_back(w);
}

void RepairChunks::AddDelta(const PackEntry& e, const Digest& base) {
  Delta d;
  d.digest = e.digest;
  d.base = base;
  d.offset = e.offset;
  d.length = e.length;
  d.raw_length = e.raw_length;
  d.pack = static_cast<uint32_t>(pack_ids_.size() - 1);
  d.order = order_++;
  d.seen = 0;
  d.codec = e.codec;
  deltas_.push_back(d);
}

void RepairChunks::Finish() {
  // The last whole copy scanned wins: sorted latest first, unique keeps it.
  std::sort(wholes_.begin(), wholes_.end(), [](const Whole& a, const Whole& b) {
    return a.digest != b.digest ? a.digest < b.digest : a.order > b.order;
  });
  auto same = [](const auto& a, const auto& b) { return a.digest == b.digest; };
  wholes_.erase(std::unique(wholes_.begin(), wholes_.end(), same), wholes_.end());
  // The first delta copy scanned wins; none is needed beside a whole copy.
  std::sort(deltas_.begin(), deltas_.end(), [](const Delta& a, const Delta& b) {
    return a.digest != b.digest ? a.digest < b.digest : a.order < b.order;
  });
  deltas_.erase(std::unique(deltas_.begin(), deltas_.end(), same), deltas_.end());
  deltas_.erase(std::remove_if(deltas_.begin(), deltas_.end(),
                               [this](const Delta& d) { return FindWhole(d.digest) != nullptr; }),
                deltas_.end());
  wholes_.shrink_to_fit();
  deltas_.shrink_to_fit();
}

RepairChunks::Whole* RepairChunks::FindWhole(const Digest& d) { return FindIn(wholes_, d); }
const RepairChunks::Whole* RepairChunks::FindWhole(const Digest& d) const {
  return FindIn(wholes_, d);
}
RepairChunks::Delta* RepairChunks::FindDelta(const Digest& d) { return FindIn(deltas_, d); }
const RepairChunks::Delta* RepairChunks::FindDelta(const Digest& d) const {
  return FindIn(deltas_, d);
}

int RepairChunks::DeltaDepth(const Digest& d, int hops) {
  // The bound on hops also ends a cycle of deltas.
  if (hops > kMaxDeltaDepth) return -1;
  Delta* delta = FindDelta(d);  // none beside a whole copy
  if (delta == nullptr) return FindWhole(d) ? 0 : -1;
  if (delta->depth != kUnknown) return delta->depth;
  int below = DeltaDepth(delta->base, hops + 1);
  delta->depth = static_cast<int8_t>(below < 0 || below + 1 > kMaxDeltaDepth ? -1 : below + 1);
  return delta->depth;
}

Result<uint64_t> RepairChunks::IndexDeltas(const IndexFn& index) {
  uint64_t unrecoverable = 0;
  for (Delta& d : deltas_) {
    int depth = DeltaDepth(d.digest, 0);
    if (depth <= 0) {
      ++unrecoverable;  // its base is gone: manifests needing it stay out
      continue;
    }
    ChunkLocation loc{pack_ids_[d.pack],          d.offset, d.length, d.raw_length, d.codec, d.base,
                      static_cast<uint8_t>(depth)};
    CKPT_RETURN_IF_ERROR(index(d.digest, loc));
  }
  return unrecoverable;
}

bool RepairChunks::Readable(const Digest& d) const {
  if (FindWhole(d)) return true;
  const Delta* delta = FindDelta(d);
  return delta != nullptr && delta->depth > 0;
}

bool RepairChunks::MarkSeen(const Digest& d, uint32_t* length) {
  if (Whole* w = FindWhole(d)) {
    if (w->seen) return false;
    w->seen = 1;
    *length = w->length;
    return true;
  }
  Delta* delta = FindDelta(d);
  if (delta == nullptr || delta->depth <= 0 || delta->seen) return false;
  delta->seen = 1;
  *length = delta->length;
  return true;
}

}  // namespace ckpt::internal
