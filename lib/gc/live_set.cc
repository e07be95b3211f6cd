#include "gc/live_set.h"

#include <algorithm>

#include "store/config.h"

namespace ckpt::internal {

bool LiveSet::ContainsChunk(const Digest& d) const {
  return std::binary_search(chunks.begin(), chunks.end(), d);
}

void LiveSet::Compact() {
  std::sort(chunks.begin(), chunks.end());
  chunks.erase(std::unique(chunks.begin(), chunks.end()), chunks.end());
}

namespace {

// Adds the bases of live delta chunks, and theirs, until none is missing.
// Chains are at most kMaxDeltaDepth long, so that many passes over the
// 'B' keys (one per delta chunk) suffice; a damaged index cannot loop.
Status MarkBases(Index& index, LiveSet* live) {
  for (int pass = 0; pass <= kMaxDeltaDepth; ++pass) {
    std::vector<Digest> found;
    CKPT_RETURN_IF_ERROR(index.Scan("B", [&](std::string_view k, std::string_view v) {
      if (v.size() != Digest::kSize) return true;  // verify reports it
      Digest base = Digest::FromView(v);
      if (live->ContainsChunk(Digest::FromView(k.substr(1))) && !live->ContainsChunk(base))
        found.push_back(base);
      return true;
    }));
    if (found.empty()) return Status::OK();
    live->chunks.insert(live->chunks.end(), found.begin(), found.end());
    live->Compact();
  }
  return Status::Corruption("gc mark: delta chains longer than " +
                            std::to_string(kMaxDeltaDepth) + " in the index");
}

}  // namespace

Status MarkLive(Index& index, LiveSet* live, const std::set<Digest>& excluded) {
  size_t compacted = live->chunks.size();
  size_t checkpoints_before = live->checkpoints.size();
  Status error;
  CKPT_RETURN_IF_ERROR(index.Scan("M", [&](std::string_view k, std::string_view v) {
    Digest id = Digest::FromView(k.substr(1));
    if (excluded.count(id) || live->checkpoints.count(id)) return true;
    CheckpointRecord rec;
    Manifest m;
    error = DecodeCheckpointRecord(v, &rec);
    if (error.ok()) error = DecodeManifest(rec.manifest, &m);
    if (!error.ok()) {
      // An unreadable record must stop gc: its chunks would look dead.
      error = error.WithContext("gc mark: checkpoint " + id.ShortHex());
      return false;
    }
    live->checkpoints.insert(id);
    live->manifests[id] = rec.manifest_location;
    for (const auto& e : m.entries) live->chunks.insert(live->chunks.end(), e.chunks.begin(), e.chunks.end());
    // Checkpoints share most chunks: deduplicate as we go to bound memory.
    if (live->chunks.size() > 2 * compacted + (1 << 16)) {
      live->Compact();
      compacted = live->chunks.size();
    }
    return true;
  }));
  CKPT_RETURN_IF_ERROR(error);
  live->Compact();
  if (live->checkpoints.size() == checkpoints_before) return Status::OK();
  return MarkBases(index, live);
}

}  // namespace ckpt::internal
