#include "store/staged_commit.h"

#include <unordered_set>

namespace ckpt::internal {
namespace {

Status Collected(const StagedShard& s, const Digest& digest, const char* what) {
  return Status::Aborted(std::string(what) + " " + digest.ShortHex() + " of " + s.Label() +
                         " was collected by a gc while the checkpoint was being saved; save "
                         "shard " +
                         std::to_string(s.shard.rank) + " again");
}

}  // namespace

Status AddStagedEntries(Index& writer, int max_delta_depth, std::vector<StagedShard>* staged,
                        IndexBatch* batch) {
  // The staged copies to index: the first of each chunk not indexed now.
  std::unordered_set<Digest, DigestHash> to_index;
  for (StagedShard& s : *staged) {
    for (auto& [digest, loc] : s.chunks) {
      if (to_index.count(digest)) continue;
      CKPT_ASSIGN_OR_RETURN(auto indexed, writer.FindChunk(digest));
      if (indexed) continue;
      if (loc.is_delta()) {
        // A base is a chunk of the parent checkpoint, indexed when the rank
        // read it; it must still be, and the chain no longer than allowed.
        CKPT_ASSIGN_OR_RETURN(auto base, writer.FindChunk(loc.base));
        if (!base) return Collected(s, loc.base, "delta base");
        if (base->depth + 1 > max_delta_depth)
          return Status::Aborted("delta chain over base " + loc.base.ShortHex() + " of " +
                                 s.Label() + " grew past the store's depth meanwhile; save shard " +
                                 std::to_string(s.shard.rank) + " again");
        loc.depth = static_cast<uint8_t>(base->depth + 1);
      }
      to_index.insert(digest);
      batch->Put(ChunkKey(digest), EncodeChunkLocation(loc));
    }
    for (const auto& [id, record] : s.packs) batch->Put(PackKey(id), EncodePackRecord(record));
  }
  // Every other chunk a shard names was found stored by its rank.
  std::unordered_set<Digest, DigestHash> checked;
  for (const StagedShard& s : *staged) {
    for (const ManifestEntry& e : s.shard.manifest.entries) {
      for (const Digest& digest : e.chunks) {
        if (to_index.count(digest) || !checked.insert(digest).second) continue;
        CKPT_ASSIGN_OR_RETURN(auto indexed, writer.FindChunk(digest));
        if (!indexed) return Collected(s, digest, "chunk");
      }
    }
  }
  return Status::OK();
}

}  // namespace ckpt::internal
