// chunk/: how a tensor's bytes are cut. Chunks are fixed-size runs of whole
// elements: tensors never change shape between saves, so fixed boundaries
// line up from one checkpoint to the next and unchanged regions dedup
// exactly. A chunk never spans two tensors. Pure arithmetic.
#pragma once

#include <cstddef>
#include <cstdint>

namespace ckpt::internal {

// Bytes per chunk for elements of `elem_size` bytes: `chunk_size` rounded
// down to whole elements, and at least one element.
inline uint64_t ChunkSpan(uint64_t chunk_size, uint64_t elem_size) {
  if (elem_size == 0) elem_size = 1;
  uint64_t span = chunk_size / elem_size * elem_size;
  return span == 0 ? elem_size : span;
}

// Number of chunks of an entry of `byte_length` bytes (0 for an empty one).
// (Not (byte_length + span - 1) / span: that wraps for lengths near 2^64.)
inline uint64_t ChunkCount(uint64_t byte_length, uint64_t span) {
  return byte_length / span + (byte_length % span != 0);
}

// Length of chunk `index` of an entry.
inline uint64_t ChunkLength(uint64_t byte_length, uint64_t span, uint64_t index) {
  uint64_t begin = index * span;
  return byte_length - begin < span ? byte_length - begin : span;
}

}  // namespace ckpt::internal
