// store/delta_base: where a changed chunk finds the base of its delta. The
// candidate is the chunk at the same tensor and offset in the parent
// checkpoint; when that chunk already sits at the chain bound, its own base
// (and so on down) is taken instead, so no chain grows past the bound.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "repo/loader.h"
#include "repo/store_context.h"

namespace ckpt::internal {

struct DeltaBase {
  Digest digest;
  uint8_t depth = 0;               // of the base itself: 0 if stored whole
  const uint8_t* bytes = nullptr;  // its raw bytes, valid until the next call on this thread
};

// The base a new chunk of `length` bytes would take, its parent-checkpoint
// counterpart being `parent_chunk` (digest and depth set, bytes not read);
// nullopt when there is none (deltas off, lengths differ, not indexed).
std::optional<DeltaBase> PickDeltaBase(StoreContext& ctx, Index& view, const Digest& parent_chunk,
                                       uint64_t length);

// Picks and reads (hash-checked) the base for a new chunk of `length` bytes
// whose parent-checkpoint counterpart is `parent_chunk`, its stored bytes
// taken from `preread` where it holds them. Returns false when there is
// none worth using (deltas off, lengths differ, the base is unreadable):
// the chunk is then stored whole.
bool FindDeltaBase(StoreContext& ctx, Index& view, const Digest& parent_chunk, uint64_t length,
                   DeltaBase* out, const PrereadSet* preread = nullptr);

// The stored bytes of the bases a save will read, fetched in ranges of
// neighbouring chunks (up to 2 MiB) when the first of them is asked for:
// from an object store, one GET per base made a bf16 save of ~200 MiB send
// ~800 GETs of ~170 KB. Safe for concurrent use; each range is fetched
// once and dropped when every user of it is done.
class BaseReadAhead {
 public:
  // candidates[u]: the base user u (a chunk of the save, in the order the
  // save reaches them) will read, if any, with its raw length.
  BaseReadAhead(StoreContext& ctx, Index& view,
                const std::vector<std::optional<std::pair<Digest, uint64_t>>>& candidates);
  ~BaseReadAhead();
  // Adds to `out` the fetched ranges holding user u's base and its chain,
  // fetching them if no user has yet. An error leaves the base to its own
  // read.
  void Fetch(size_t user, PrereadSet* out);
  // User u needs its ranges no more.
  void Done(size_t user);

 private:
  struct Range;
  StoreContext& ctx_;
  std::vector<std::unique_ptr<Range>> ranges_;
  std::vector<std::vector<size_t>> of_user_;            // ranges per user
  std::vector<std::unique_ptr<std::string>> pack_ids_;  // the ranges name them
};

}  // namespace ckpt::internal
