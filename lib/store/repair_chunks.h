// store/repair_chunks: repair's table of the chunks found in packs, with
// the copy of each that the rebuilt index points at.
//
// A chunk may be stored in several packs. Of its whole copies the last one
// scanned wins (its index entry is written last); a whole copy wins over
// any delta; of its delta copies the first one scanned wins. Copies are
// appended as the packs are scanned, then sorted by digest (and scan
// order) and reduced to the winners, so lookups are binary searches.
//
// Memory: 40 bytes per whole copy and 96 per delta copy (digest, base,
// place in its pack, pack number, depth), plus one id per pack. Deques
// hold the copies: they grow without copying what they hold, so no second
// copy of the table is ever needed.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <string>
#include <vector>

#include "ckpt/result.h"
#include "index/index_keys.h"
#include "pack/pack_format.h"

namespace ckpt::internal {

class RepairChunks {
 public:
  // Numbers pack `id`; the copies added next are in it.
  uint32_t AddPack(const std::string& id);
  void AddWhole(const PackEntry& e);
  void AddDelta(const PackEntry& e, const Digest& base);

  // After every pack is added: keeps the winning copy of each chunk.
  void Finish();

  // Computes the depth of every delta chunk without a whole copy, in
  // digest order, and passes those whose chain is sound to `index`.
  // Returns how many have none (a missing link, or a chain too long).
  using IndexFn = std::function<Status(const Digest&, const ChunkLocation&)>;
  Result<uint64_t> IndexDeltas(const IndexFn& index);

  // After IndexDeltas: whether chunk `d` is readable (whole, or a delta
  // with a sound chain).
  bool Readable(const Digest& d) const;
  // After IndexDeltas, for a readable chunk: marks it seen and returns
  // true, with the encoded length of its indexed copy, the first time.
  bool MarkSeen(const Digest& d, uint32_t* length);

  const std::string& pack_id(uint32_t pack) const { return pack_ids_[pack]; }

 private:
  static constexpr int8_t kUnknown = -2;  // depth not computed yet

  struct Whole {
    Digest digest;
    uint32_t length = 0;
    uint32_t order : 31;  // scan order, until Finish
    uint32_t seen : 1;
  };
  struct Delta {
    Digest digest;
    Digest base;
    uint64_t offset = 0;
    uint32_t length = 0;
    uint32_t raw_length = 0;
    uint32_t pack = 0;
    uint32_t order : 31;  // scan order, until Finish
    uint32_t seen : 1;
    uint8_t codec = 0;
    int8_t depth = kUnknown;  // -1: no sound chain
  };

  Whole* FindWhole(const Digest& d);
  const Whole* FindWhole(const Digest& d) const;
  Delta* FindDelta(const Digest& d);
  const Delta* FindDelta(const Digest& d) const;
  // Depth of the chain under chunk `d`, reached `hops` links down from the
  // chunk being indexed: 0 for a whole chunk, -1 if a link is missing or
  // the chain is longer than any store allows. Remembered per delta.
  int DeltaDepth(const Digest& d, int hops);

  std::vector<std::string> pack_ids_;
  std::deque<Whole> wholes_;
  std::deque<Delta> deltas_;
  uint32_t order_ = 0;
};

}  // namespace ckpt::internal
