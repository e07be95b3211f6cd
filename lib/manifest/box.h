// manifest/box: the geometry of sharded tensors. A box is a hyper-rectangle
// (offsets and shape) of a row-major tensor; a piece stores the bytes of its
// box row-major in the box's own shape. Pure: no I/O.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace ckpt::internal {

struct Box {
  std::vector<int64_t> offsets;
  std::vector<int64_t> shape;
};

// Bytes [src, src+length) of one box's storage that land at
// [dst, dst+length) of another's.
struct ByteRun {
  uint64_t src = 0;
  uint64_t dst = 0;
  uint64_t length = 0;
};

// Product of `shape`, or nullopt if a dimension is negative or it overflows
// 2^63 once multiplied by `elem_size`.
std::optional<uint64_t> ElementCount(const std::vector<int64_t>& shape, uint64_t elem_size = 1);

// Whether `box` has the rank of `shape`, non-negative offsets and shape, and
// lies inside it. On false, says why in *why (if given).
bool BoxInside(const Box& box, const std::vector<int64_t>& shape, std::string* why = nullptr);

// Whether two boxes of one tensor share an element (empty boxes share none).
bool BoxesOverlap(const Box& a, const Box& b);

// Elements the two boxes share.
uint64_t OverlapElements(const Box& a, const Box& b);

// The bytes that the storage of `piece` shares with that of `region` (both
// boxes of one tensor, of elements of `elem_size` bytes): runs sorted by
// src, contiguous runs merged, so a row shard read whole is one run.
// REQUIRES: both boxes valid for one tensor (BoxInside).
std::vector<ByteRun> SharedRuns(const Box& piece, const Box& region, uint64_t elem_size);

// "[o0:o0+s0, o1:o1+s1]" for messages.
std::string BoxToString(const Box& box);

}  // namespace ckpt::internal
