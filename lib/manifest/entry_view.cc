#include "manifest/entry_view.h"

#include <algorithm>
#include <map>

#include "manifest/box.h"

namespace ckpt::internal {

std::string LocalEntryName(int32_t rank, std::string_view name) {
  return "rank" + std::to_string(rank) + "/" + std::string(name);
}

bool LooksLikeLocalEntryName(std::string_view name) {
  if (name.substr(0, 4) != "rank") return false;
  size_t i = 4;
  while (i < name.size() && name[i] >= '0' && name[i] <= '9') ++i;
  return i > 4 && i < name.size() && name[i] == '/';
}

namespace {

Box BoxOf(const ManifestEntry& e) { return {e.offsets, e.shape}; }

// The first two of `pieces` that overlap, if any. Sorted by their offset in
// the first dimension, a piece is compared only with those that start
// before it ends there: row shards cost n log n.
std::optional<std::pair<const ManifestEntry*, const ManifestEntry*>> FindOverlap(
    std::vector<const ManifestEntry*> pieces) {
  std::sort(pieces.begin(), pieces.end(), [](const ManifestEntry* a, const ManifestEntry* b) {
    return a->offsets[0] < b->offsets[0];
  });
  for (size_t i = 0; i < pieces.size(); ++i) {
    const int64_t end = pieces[i]->offsets[0] + pieces[i]->shape[0];
    for (size_t j = i + 1; j < pieces.size() && pieces[j]->offsets[0] < end; ++j)
      if (BoxesOverlap(BoxOf(*pieces[i]), BoxOf(*pieces[j])))
        return std::make_pair(pieces[i], pieces[j]);
  }
  return std::nullopt;
}

}  // namespace

Result<std::vector<EntryView>> ViewEntries(const Manifest& m) {
  std::vector<EntryView> views;
  std::map<std::string, size_t, std::less<>> by_name;
  for (size_t index = 0; index < m.entries.size(); ++index) {
    const ManifestEntry& e = m.entries[index];
    const std::string name = e.local_rank >= 0 ? LocalEntryName(e.local_rank, e.name) : e.name;
    auto [it, fresh] = by_name.emplace(name, views.size());
    if (fresh) {
      EntryView v;
      v.name = name;
      v.is_blob = e.is_blob;
      v.dtype = e.dtype;
      v.shape = e.is_piece() ? e.global_shape : e.shape;
      v.byte_length =
          e.is_piece() ? *ElementCount(e.global_shape) * DTypeSize(e.dtype) : e.byte_length;
      v.local_rank = e.local_rank;
      v.pieced = e.is_piece();
      v.parts.push_back(index);
      views.push_back(std::move(v));
      continue;
    }
    EntryView& v = views[it->second];
    if (!e.is_piece() || !v.pieced)
      return Status::Corruption("manifest names '" + name + "' twice");
    if (e.dtype != v.dtype || e.global_shape != v.shape)
      return Status::Corruption("pieces of '" + name + "' disagree on dtype or global shape");
    v.parts.push_back(index);
  }
  for (const EntryView& v : views) {
    if (v.parts.size() < 2) continue;
    std::vector<const ManifestEntry*> pieces;
    for (size_t i : v.parts) pieces.push_back(&m.entries[i]);
    if (auto overlap = FindOverlap(std::move(pieces)))
      return Status::Corruption("pieces " + BoxToString(BoxOf(*overlap->first)) + " and " +
                                BoxToString(BoxOf(*overlap->second)) + " of '" + v.name +
                                "' overlap");
  }
  return views;
}

namespace {

std::string Ranks(uint32_t a, uint32_t b) {
  return "ranks " + std::to_string(a) + " and " + std::to_string(b);
}

// What CheckShardsFit learns about one global name as it goes.
struct NameSeen {
  const ManifestEntry* first = nullptr;
  uint32_t rank = 0;  // of `first`
  std::vector<const ManifestEntry*> pieces;
};

}  // namespace

Status CheckShardsFit(const std::vector<const ShardManifest*>& shards) {
  if (shards.empty()) return Status::OK();
  const Manifest& m0 = shards.front()->manifest;
  std::vector<bool> rank_seen(m0.world_size, false);
  std::map<std::string_view, NameSeen> names;
  for (const ShardManifest* shard : shards) {
    const Manifest& m = shard->manifest;
    const std::string who = "rank " + std::to_string(shard->rank);
    if (m.world_size != m0.world_size)
      return Status::InvalidArgument(who + " saves with world size " +
                                     std::to_string(m.world_size) + ", another rank with " +
                                     std::to_string(m0.world_size));
    if (m.run != m0.run || m.step != m0.step || m.chunk_size != m0.chunk_size)
      return Status::InvalidArgument(who + " saves another checkpoint or chunk size");
    if (shard->rank >= m.world_size || rank_seen[shard->rank])
      return Status::InvalidArgument(who + " is out of range or twice in one checkpoint");
    rank_seen[shard->rank] = true;
    for (const ManifestEntry& e : m.entries) {
      if (e.local_rank >= 0) continue;  // private: no other rank's business
      NameSeen& seen = names[e.name];
      if (!seen.first) {
        seen.first = &e;
        seen.rank = shard->rank;
      }
      const ManifestEntry& f = *seen.first;
      const std::string what = "'" + e.name + "' (" + Ranks(seen.rank, shard->rank) + ")";
      if (e.is_piece() != f.is_piece())
        return Status::InvalidArgument(what + " is saved whole by one rank, in pieces by another");
      if (!e.is_piece()) {
        if (&e != &f && (e.is_blob != f.is_blob || e.dtype != f.dtype || e.shape != f.shape ||
                         e.chunks != f.chunks))
          return Status::InvalidArgument(what +
                                         " differs between ranks; a tensor saved whole by "
                                         "several ranks must be the same on each");
        continue;
      }
      if (e.dtype != f.dtype || e.global_shape != f.global_shape)
        return Status::InvalidArgument("pieces of " + what + " disagree on dtype or global shape");
      seen.pieces.push_back(&e);
    }
  }
  for (const auto& [name, seen] : names) {
    if (seen.pieces.size() < 2) continue;
    if (auto overlap = FindOverlap(seen.pieces))
      return Status::InvalidArgument("pieces " + BoxToString(BoxOf(*overlap->first)) + " (rank " +
                                     std::to_string(overlap->first->writer) + ") and " +
                                     BoxToString(BoxOf(*overlap->second)) + " (rank " +
                                     std::to_string(overlap->second->writer) + ") of '" +
                                     std::string(name) + "' overlap");
  }
  return Status::OK();
}

Manifest MergeShards(const std::vector<const ShardManifest*>& shards) {
  std::vector<const ShardManifest*> by_rank = shards;
  std::sort(by_rank.begin(), by_rank.end(),
            [](const ShardManifest* a, const ShardManifest* b) { return a->rank < b->rank; });
  const Manifest& m0 = by_rank.front()->manifest;
  Manifest out = m0.Head();  // its wall time: the latest shard's, below
  std::map<std::string_view, bool> whole_seen;
  for (const ShardManifest* shard : by_rank) {
    out.wall_time_ns = std::max(out.wall_time_ns, shard->manifest.wall_time_ns);
    for (const ManifestEntry& e : shard->manifest.entries) {
      if (e.local_rank < 0 && !e.is_piece() && !whole_seen.emplace(e.name, true).second)
        continue;  // replicated: kept once, from the lowest rank
      out.entries.push_back(e);
    }
  }
  std::stable_partition(out.entries.begin(), out.entries.end(),
                        [](const ManifestEntry& e) { return !e.is_blob; });
  return out;
}

namespace {

bool SameContents(const ManifestEntry& a, const ManifestEntry& b) {
  return a.is_blob == b.is_blob && a.dtype == b.dtype && a.shape == b.shape &&
         a.byte_length == b.byte_length && a.chunks == b.chunks &&
         a.global_shape == b.global_shape && a.offsets == b.offsets && a.local_rank == b.local_rank;
}

}  // namespace

bool ShardIsPartOf(const ShardManifest& shard, const Manifest& merged) {
  const Manifest& m = shard.manifest;
  if (m.run != merged.run || m.step != merged.step || m.world_size != merged.world_size)
    return false;
  std::multimap<std::string_view, const ManifestEntry*> by_name;
  for (const ManifestEntry& e : merged.entries) by_name.emplace(e.name, &e);
  for (const ManifestEntry& e : m.entries) {
    const bool replicated = e.local_rank < 0 && !e.is_piece();
    auto [first, last] = by_name.equal_range(e.name);
    bool found = false;
    for (auto it = first; it != last && !found; ++it) {
      const ManifestEntry& candidate = *it->second;
      found = SameContents(e, candidate) && (replicated || candidate.writer == shard.rank);
    }
    if (!found) return false;
  }
  return true;
}

}  // namespace ckpt::internal
