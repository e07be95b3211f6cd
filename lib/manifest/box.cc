#include "manifest/box.h"

#include <algorithm>

namespace ckpt::internal {

std::optional<uint64_t> ElementCount(const std::vector<int64_t>& shape, uint64_t elem_size) {
  constexpr uint64_t kLimit = uint64_t{1} << 63;
  uint64_t n = 1;
  for (int64_t d : shape) {
    if (d < 0) return std::nullopt;
    if (d != 0 && n > kLimit / static_cast<uint64_t>(d)) return std::nullopt;
    n *= static_cast<uint64_t>(d);
  }
  if (elem_size != 0 && n > kLimit / elem_size) return std::nullopt;
  return n;
}

bool BoxInside(const Box& box, const std::vector<int64_t>& shape, std::string* why) {
  auto fail = [&](std::string s) {
    if (why) *why = std::move(s);
    return false;
  };
  if (box.offsets.size() != shape.size() || box.shape.size() != shape.size())
    return fail("box " + BoxToString(box) + " does not have the " + std::to_string(shape.size()) +
                " dimensions of the tensor");
  for (size_t d = 0; d < shape.size(); ++d) {
    if (box.offsets[d] < 0 || box.shape[d] < 0 || shape[d] < 0)
      return fail("box " + BoxToString(box) + " has a negative offset or size");
    if (box.offsets[d] > shape[d] || box.shape[d] > shape[d] - box.offsets[d])
      return fail("box " + BoxToString(box) + " passes the end of dimension " + std::to_string(d) +
                  " (" + std::to_string(shape[d]) + ")");
  }
  return true;
}

uint64_t OverlapElements(const Box& a, const Box& b) {
  if (a.shape.size() != b.shape.size()) return 0;
  uint64_t n = 1;
  for (size_t d = 0; d < a.shape.size(); ++d) {
    int64_t lo = std::max(a.offsets[d], b.offsets[d]);
    int64_t hi = std::min(a.offsets[d] + a.shape[d], b.offsets[d] + b.shape[d]);
    if (hi <= lo) return 0;
    n *= static_cast<uint64_t>(hi - lo);
  }
  return n;
}

bool BoxesOverlap(const Box& a, const Box& b) { return OverlapElements(a, b) > 0; }

std::vector<ByteRun> SharedRuns(const Box& piece, const Box& region, uint64_t elem_size) {
  const size_t rank = piece.shape.size();
  std::vector<int64_t> lo(rank), extent(rank);
  for (size_t d = 0; d < rank; ++d) {
    lo[d] = std::max(piece.offsets[d], region.offsets[d]);
    int64_t hi = std::min(piece.offsets[d] + piece.shape[d], region.offsets[d] + region.shape[d]);
    if (hi <= lo[d]) return {};
    extent[d] = hi - lo[d];
  }
  // Dimensions [inner, rank) are copied as one block: each is whole in the
  // intersection, the piece and the region alike, so their bytes are
  // contiguous in both.
  size_t inner = rank;
  uint64_t block = elem_size;
  while (inner > 0) {
    size_t d = inner - 1;
    block *= static_cast<uint64_t>(extent[d]);
    --inner;
    if (extent[d] != piece.shape[d] || extent[d] != region.shape[d]) break;
  }
  // Row-major strides, in bytes, of the piece and the region.
  std::vector<uint64_t> piece_stride(rank), region_stride(rank);
  uint64_t ps = elem_size, rs = elem_size;
  for (size_t d = rank; d-- > 0;) {
    piece_stride[d] = ps;
    region_stride[d] = rs;
    ps *= static_cast<uint64_t>(piece.shape[d]);
    rs *= static_cast<uint64_t>(region.shape[d]);
  }
  std::vector<ByteRun> runs;
  std::vector<int64_t> at(lo.begin(), lo.begin() + static_cast<std::ptrdiff_t>(inner));
  while (true) {
    uint64_t src = 0, dst = 0;
    for (size_t d = 0; d < rank; ++d) {
      const int64_t i = d < inner ? at[d] : lo[d];
      src += static_cast<uint64_t>(i - piece.offsets[d]) * piece_stride[d];
      dst += static_cast<uint64_t>(i - region.offsets[d]) * region_stride[d];
    }
    if (!runs.empty() && runs.back().src + runs.back().length == src &&
        runs.back().dst + runs.back().length == dst)
      runs.back().length += block;
    else
      runs.push_back({src, dst, block});
    // Next index of the outer dimensions, last fastest.
    size_t d = inner;
    while (d > 0) {
      --d;
      if (++at[d] < lo[d] + extent[d]) break;
      at[d] = lo[d];
      if (d == 0) return runs;
    }
    if (inner == 0) return runs;
  }
}

std::string BoxToString(const Box& box) {
  std::string s = "[";
  for (size_t d = 0; d < box.shape.size(); ++d) {
    if (d) s += ", ";
    const int64_t o = d < box.offsets.size() ? box.offsets[d] : 0;
    s += std::to_string(o) + ":" + std::to_string(o + box.shape[d]);
  }
  return s + "]";
}

}  // namespace ckpt::internal
