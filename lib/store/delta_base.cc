#include "store/delta_base.h"

#include <algorithm>
#include <atomic>
#include <tuple>

#include "pack/pack_writer.h"
#include "repo/config.h"

namespace ckpt::internal {

std::optional<DeltaBase> PickDeltaBase(StoreContext& ctx, Index& view, const Digest& parent_chunk,
                                       uint64_t length) {
  const int max_depth = ctx.config.delta_max_depth;
  if (max_depth <= 0) return std::nullopt;
  Digest candidate = parent_chunk;
  for (int hops = 0;; ++hops) {
    if (hops > kMaxDeltaDepth) return std::nullopt;  // a damaged index; store whole
    auto found = view.FindChunk(candidate);
    if (!found.ok() || !*found) return std::nullopt;
    const ChunkLocation& loc = **found;
    if (loc.raw_length != length) return std::nullopt;
    if (loc.depth < max_depth) {
      DeltaBase base;
      base.digest = candidate;
      base.depth = loc.depth;
      return base;
    }
    candidate = loc.base;
  }
}

bool FindDeltaBase(StoreContext& ctx, Index& view, const Digest& parent_chunk, uint64_t length,
                   DeltaBase* out, const PrereadSet* preread) {
  std::optional<DeltaBase> picked = PickDeltaBase(ctx, view, parent_chunk, length);
  if (!picked) return false;
  *out = *picked;
  thread_local std::vector<uint8_t> bytes;
  if (bytes.size() < length) bytes.resize(length);
  // A damaged base must not carry new data: store whole, and leave the
  // damage for verify to report.
  if (!ReadChunk(ctx, view, out->digest, length, bytes.data(), ChunkCheck::kFrameChecksums, preread)
           .ok())
    return false;
  out->bytes = bytes.data();
  return true;
}

namespace {

constexpr uint64_t kBaseGap = 64 << 10;   // bytes a range may read and not use
constexpr uint64_t kBaseRange = 2 << 20;  // small: a range read for one base wastes the rest
constexpr size_t kBaseUserWindow = 64;    // users a range serves at most apart

}  // namespace

struct BaseReadAhead::Range {
  const std::string* pack_id = nullptr;
  uint64_t begin = 0;
  uint64_t end = 0;
  size_t first_user = 0, last_user = 0;
  std::atomic<size_t> users{0};
  std::mutex mu;  // held while fetching
  bool fetched = false;
  bool failed = false;
  std::string bytes;
};

BaseReadAhead::~BaseReadAhead() = default;

BaseReadAhead::BaseReadAhead(
    StoreContext& ctx, Index& view,
    const std::vector<std::optional<std::pair<Digest, uint64_t>>>& candidates)
    : ctx_(ctx), of_user_(candidates.size()) {
  // Every user's chain, located: the base and its own bases.
  struct Piece {
    ChunkLocation loc;
    size_t user;
  };
  std::vector<Piece> pieces;
  for (size_t u = 0; u < candidates.size(); ++u) {
    if (!candidates[u]) continue;
    Digest digest = candidates[u]->first;
    for (int level = 0; level <= kMaxDeltaDepth; ++level) {
      auto found = view.FindChunk(digest);
      if (!found.ok() || !*found || (*found)->raw_length != candidates[u]->second) break;
      pieces.push_back({std::move(**found), u});
      if (!pieces.back().loc.is_delta()) break;
      digest = pieces.back().loc.base;
    }
  }
  std::sort(pieces.begin(), pieces.end(), [](const Piece& a, const Piece& b) {
    return std::tie(a.loc.pack_id, a.loc.offset) < std::tie(b.loc.pack_id, b.loc.offset);
  });
  // Pack ids outlive the pieces: kept by the ranges that name them.
  std::vector<std::unique_ptr<std::string>> ids;
  for (const Piece& piece : pieces) {
    const uint64_t end = piece.loc.offset + piece.loc.length;
    Range* r = ranges_.empty() ? nullptr : ranges_.back().get();
    if (r != nullptr && *r->pack_id == piece.loc.pack_id && piece.loc.offset <= r->end + kBaseGap &&
        std::max(r->end, end) - r->begin <= kBaseRange &&
        std::max(r->last_user, piece.user) - std::min(r->first_user, piece.user) <=
            kBaseUserWindow) {
      r->end = std::max(r->end, end);
      r->first_user = std::min(r->first_user, piece.user);
      r->last_user = std::max(r->last_user, piece.user);
    } else {
      auto range = std::make_unique<Range>();
      if (ids.empty() || *ids.back() != piece.loc.pack_id)
        ids.push_back(std::make_unique<std::string>(piece.loc.pack_id));
      range->pack_id = ids.back().get();
      range->begin = piece.loc.offset;
      range->end = end;
      range->first_user = range->last_user = piece.user;
      ranges_.push_back(std::move(range));
      r = ranges_.back().get();
    }
    std::vector<size_t>& of = of_user_[piece.user];
    const size_t index = ranges_.size() - 1;
    if (std::find(of.begin(), of.end(), index) == of.end()) {
      of.push_back(index);
      r->users++;
    }
  }
  pack_ids_ = std::move(ids);
}

void BaseReadAhead::Fetch(size_t user, PrereadSet* out) {
  for (size_t index : of_user_[user]) {
    Range& r = *ranges_[index];
    std::lock_guard<std::mutex> lock(r.mu);
    if (!r.fetched && !r.failed) {
      r.failed = !ReadPackBytes(*ctx_.backend, *r.pack_id, r.begin,
                                static_cast<uint32_t>(r.end - r.begin), &r.bytes)
                      .ok();
      r.fetched = !r.failed;
    }
    if (r.fetched) out->Add(*r.pack_id, r.begin, r.bytes);
  }
}

void BaseReadAhead::Done(size_t user) {
  for (size_t index : of_user_[user]) {
    Range& r = *ranges_[index];
    if (r.users.fetch_sub(1) != 1) continue;
    std::lock_guard<std::mutex> lock(r.mu);
    std::string().swap(r.bytes);
  }
}

}  // namespace ckpt::internal
