// repo/loader: reads entries of a checkpoint back: index lookup, pack
// read, decode, SHA-256 check, copy into the caller's buffer (invariant 3).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "ckpt/checkpoint_reader.h"
#include "manifest/box.h"
#include "manifest/entry_view.h"
#include "repo/store_context.h"

namespace ckpt::internal {

// How ReadChunk checks the bytes it decoded.
enum class ChunkCheck {
  kHash,  // SHA-256 of the result against the digest: every load and export
  // zstd's content checksums when every frame of the chain has one, else
  // kHash. For a save reading a delta base: it guards against damage at a
  // fraction of the cost, and a base read wrong cannot go unnoticed, since the
  // load of the new chunk checks its SHA-256.
  kFrameChecksums,
};

// Stored bytes fetched ahead, several chunks per request: ranges of packs,
// searched by the chunks' locations. Holds views; the bytes stay the
// caller's.
class PrereadSet {
 public:
  void Add(const std::string& pack_id, uint64_t begin, std::string_view bytes) {
    ranges_.push_back({&pack_id, begin, bytes});
  }
  void Clear() { ranges_.clear(); }

  // The stored bytes of the chunk at `loc`, if a range holds them.
  std::optional<std::string_view> Find(const ChunkLocation& loc) const {
    for (const Range_& r : ranges_) {
      if (r.begin <= loc.offset && loc.offset + loc.length <= r.begin + r.bytes.size() &&
          *r.pack_id == loc.pack_id) {
        return r.bytes.substr(loc.offset - r.begin, loc.length);
      }
    }
    return std::nullopt;
  }

 private:
  struct Range_ {
    const std::string* pack_id = nullptr;
    uint64_t begin = 0;
    std::string_view bytes;
  };
  std::vector<Range_> ranges_;
};

// Reads chunk `digest` (raw length `raw_length`) into `dst`, checking it
// as `check` says; a delta chunk decodes its bases first. Stored bytes that
// `preread` holds (if given) are not read again. Errors carry the pack and
// chunk (and the damaged base of a delta); callers add checkpoint and
// tensor.
Status ReadChunk(StoreContext& ctx, Index& index, const Digest& digest, uint64_t raw_length,
                 uint8_t* dst, ChunkCheck check = ChunkCheck::kHash,
                 const PrereadSet* preread = nullptr);

// One stored entry's share of a read: its bytes runs[i].src.. land at
// runs[i].dst.. of destination `target` (sorted by src, disjoint).
struct PartRead {
  const ManifestEntry* entry = nullptr;
  size_t target = 0;
  std::vector<ByteRun> runs;
};

// The parts a read of all of `v` (an entry of `m`) needs, into `target`.
// Errors: kNotFound if pieces leave part of a global tensor uncovered.
Status AddViewRead(const Manifest& m, const EntryView& v, size_t target,
                   std::vector<PartRead>* out);
// The parts a read of box `region` of tensor `v` needs (the box row-major in
// its own shape). Errors: kInvalidArgument for a blob or a box outside
// the tensor, kNotFound for a region no piece covers.
Status AddBoxRead(const Manifest& m, const EntryView& v, const Box& region, size_t target,
                  std::vector<PartRead>* out);
// The parts a read of bytes [offset, offset+length) of `v` needs.
// Errors: kInvalidArgument past the end, kNotFound as AddViewRead.
Status AddRangeRead(const Manifest& m, const EntryView& v, uint64_t offset, uint64_t length,
                    size_t target, std::vector<PartRead>* out);

// Reads `parts` of checkpoint `c` on the pool, all chunks in one parallel
// loop, skipping chunks no run needs. Without `sink`, bytes go to
// dsts[target] + dst; a chunk that lands whole in one place is decoded
// there. With `sink`, each checked piece goes to sink(target, dst, ...)
// from the thread that read it, and `dsts` is unused. `progress` counts
// the bytes of all parts together. Returns the first error, with the
// checkpoint and part; after one, no chunk starts.
Status ReadParts(StoreContext& ctx, Index& index, const ResolvedCheckpoint& c,
                 const std::vector<PartRead>& parts, const std::vector<uint8_t*>& dsts,
                 const PieceSink& sink, const ProgressFn& progress);

}  // namespace ckpt::internal
