// store/chunk_table: verify's table of the chunks that checkpoints name and
// of the bases down their delta chains, with where each is stored.
//
// Built from sequential reads: the digests the manifests name are
// collected, sorted and deduplicated, then merged with one walk over the
// index's chunk keys, which sort the same way. A delta's base is looked for
// in the table first (a directory of the digests' leading bits finds it in
// a few reads); bases outside it are looked up in the index level by level
// (the bases of named chunks, then theirs), each level in sorted batches.
//
// Memory: 44 bytes per chunk (digest; pack number, base position, depth),
// 16 more with extents, half a byte at most of directory, and one id per
// pack. Deques hold the chunks: they grow without copying what they hold,
// so that no second copy of the table is ever needed.
#pragma once

#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "index/index.h"
#include "manifest/manifest_codec.h"

namespace ckpt::internal {

// A problem, with the chunks (table positions) it makes unreadable.
struct ChunkProblem {
  Status status;
  std::vector<uint32_t> chunks;
};

class ChunkTable {
 public:
  static constexpr uint32_t kNone = UINT32_MAX;

  struct Info {
    uint32_t pack = kNone;  // number of the chunk's pack; kNone: missing from the index
    uint32_t base = kNone;  // position of a delta's base, if the table holds it
    uint8_t depth = 0;      // > 0: a delta
  };
  // Where a chunk's stored bytes are (with keep_extents only).
  struct Extent {
    uint64_t offset = 0;
    uint32_t length = 0;
    uint32_t raw_length = 0;
  };

  explicit ChunkTable(bool keep_extents) : keep_extents_(keep_extents) {}

  // Before Locate: adds the chunks `m` names.
  void AddChunksOf(const Manifest& m);
  // Looks every named chunk up, then the bases down their chains, and
  // appends a problem for each broken link of a chain: a base missing from
  // the index, or one whose depth is not below its delta's, or a chain
  // longer than kMaxDeltaDepth. Chunks named but missing stay in the table,
  // not found, for the caller to report.
  Status Locate(Index& index, std::vector<ChunkProblem>* problems);

  uint32_t size() const { return static_cast<uint32_t>(digests_.size()); }
  // Positions [0, named()) hold the chunks manifests name, sorted.
  uint32_t named() const { return named_; }
  const Digest& digest(uint32_t i) const { return digests_[i]; }
  const Info& info(uint32_t i) const { return infos_[i]; }
  const Extent& extent(uint32_t i) const { return extents_[i]; }
  bool found(uint32_t i) const { return infos_[i].pack != kNone; }
  uint32_t pack_count() const { return static_cast<uint32_t>(pack_ids_.size()); }
  const std::string& pack_id(uint32_t pack) const { return pack_ids_[pack]; }

  // Position of named chunk `d`, or kNone.
  uint32_t FindNamed(const Digest& d) const;
  // (chunk, problem) for every chunk each of `problems` makes unreadable:
  // its own, and those whose chains run through them. Sorted.
  std::vector<std::pair<uint32_t, uint32_t>> Affected(
      const std::vector<ChunkProblem>& problems) const;

 private:
  // A delta chunk whose base the table does not hold (yet).
  struct Link {
    Digest base;
    uint32_t chunk;
  };

  void SortUnique();
  uint32_t FindIn(uint32_t begin, uint32_t end, const Digest& d) const;
  // Named chunks by the leading bits of their digests (uniformly spread).
  size_t Bucket(const Digest& d) const;
  void BuildDirectory();
  uint32_t Find(const Digest& d) const;
  // The number of an indexed pack (hex id), or kNone if it is not indexed.
  Result<uint32_t> PackNumber(Index& index, const std::string& pack_id);
  // Records that chunk i is at `loc`; leaves it missing if its pack is not
  // indexed, as FindChunk does.
  Status Set(Index& index, uint32_t i, const ChunkLocation& loc);
  // Fills named chunk i from its index entry; a delta goes to `batch`.
  Status Fill(Index& index, uint32_t i, std::string_view value, std::vector<Link>* batch,
              std::vector<Link>* unresolved);
  // Points the deltas in `batch` at their bases if named; the rest go to
  // `unresolved`.
  void ResolveNamed(std::vector<Link>* batch, std::vector<Link>* unresolved);
  // Merges the named chunks with one walk over the index's chunk keys.
  Status ScanNamed(Index& index, std::vector<Link>* unresolved);
  // Links of `level` to bases the table held when they were resolved.
  void CheckLinks(size_t level, std::vector<ChunkProblem>* problems) const;
  // Looks up the bases `links` (from chunks of `level`) need and appends
  // the next level: those reached through a sound link.
  Status AddBases(Index& index, size_t level, std::vector<Link> links,
                  std::vector<ChunkProblem>* problems);
  // Checks the n `links` to one base, at `loc` unless missing, and adds the
  // base if one of them is sound.
  Status AddBase(Index& index, size_t level, const std::optional<ChunkLocation>& loc,
                 const Link* links, size_t n, std::vector<ChunkProblem>* problems);
  // Points the new level's deltas at bases the table holds; returns the rest.
  std::vector<Link> Resolve();

  const bool keep_extents_;
  std::deque<Digest> digests_;
  std::deque<Info> infos_;
  std::deque<Extent> extents_;  // with keep_extents only
  uint32_t named_ = 0;
  // directory_[b]: the first named chunk whose Bucket() is b or more.
  std::vector<uint32_t> directory_;
  int directory_bits_ = 0;
  size_t sorted_ = 0;  // while collecting: digests_ sorted and unique up to here
  // Level k spans [levels_[k], levels_[k + 1]), each sorted.
  std::vector<uint32_t> levels_;
  std::vector<Link> pending_;  // bases of the level being added
  std::vector<std::string> pack_ids_;
  std::unordered_map<std::string, uint32_t> pack_numbers_;  // kNone: not indexed
};

}  // namespace ckpt::internal
