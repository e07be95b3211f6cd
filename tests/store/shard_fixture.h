// Sharded checkpoints for the tests: global tensors whose every element is
// a function of its position, split among ranks in rows, columns and a
// grid, with a replicated tensor and rank-local state. The slicing here is
// written independently of the library's box code, so that a load can be
// checked against it.
#pragma once

#include <cstring>
#include <map>
#include <string>
#include <vector>

#include "ckpt/ckpt.h"
#include "test_util.h"

namespace ckpt::test {

using Dims = std::vector<int64_t>;

struct TestBox {
  Dims offsets, shape;
};

// An F32 tensor of `shape`, element i holding a value made from (seed, i).
struct GlobalTensor {
  Dims shape;
  std::vector<uint8_t> bytes;

  GlobalTensor(Dims s, uint64_t seed) : shape(std::move(s)) {
    int64_t n = 1;
    for (int64_t d : shape) n *= d;
    bytes = RandomBytes(static_cast<size_t>(n) * 4, seed);
  }

  // The bytes of `box`, row-major in the box's shape: element by element.
  std::vector<uint8_t> Slice(const TestBox& box) const {
    int64_t n = 1;
    for (int64_t d : box.shape) n *= d;
    std::vector<uint8_t> out(static_cast<size_t>(n) * 4);
    std::vector<int64_t> at(box.shape.size(), 0);
    for (int64_t k = 0; k < n; ++k) {
      int64_t global = 0;
      for (size_t d = 0; d < shape.size(); ++d) global = global * shape[d] + box.offsets[d] + at[d];
      std::memcpy(out.data() + k * 4, bytes.data() + global * 4, 4);
      for (size_t d = at.size(); d-- > 0;) {
        if (++at[d] < box.shape[d]) break;
        at[d] = 0;
      }
    }
    return out;
  }
};

// `parts` boxes splitting `shape` along `dim`, as evenly as they go (the
// last ones one smaller), like torch.chunk.
inline std::vector<TestBox> SplitAlong(const Dims& shape, size_t dim, int64_t parts) {
  std::vector<TestBox> out;
  const int64_t n = shape[dim], base = n / parts, extra = n % parts;
  int64_t at = 0;
  for (int64_t p = 0; p < parts; ++p) {
    TestBox b{Dims(shape.size(), 0), shape};
    b.offsets[dim] = at;
    b.shape[dim] = base + (p < extra ? 1 : 0);
    at += b.shape[dim];
    out.push_back(b);
  }
  return out;
}

// A rows x cols grid of boxes over a 2-D `shape`, row-major.
inline std::vector<TestBox> Grid(const Dims& shape, int64_t rows, int64_t cols) {
  std::vector<TestBox> out;
  for (const TestBox& r : SplitAlong(shape, 0, rows))
    for (const TestBox& c : SplitAlong(shape, 1, cols))
      out.push_back({{r.offsets[0], c.offsets[1]}, {r.shape[0], c.shape[1]}});
  return out;
}

// The state of a job of `world` ranks at `step` (`scale` multiplies the
// first dimension of w, v and g):
//   "w"    37 x 24, rows, each rank holding two uneven pieces (r and r+world)
//   "v"    12 x 40, columns
//   "g"    18 x 22, a grid (2 rows of world/2 columns; world even), else rows
//   "bias" 40, replicated: saved whole by every rank
//   "rng"  a rank-local blob; "cursor" a rank-local tensor
struct ShardedState {
  int world;
  uint64_t step;
  std::map<std::string, GlobalTensor> tensors;
  std::vector<uint8_t> bias;

  ShardedState(int w, uint64_t s, int64_t scale = 1) : world(w), step(s) {
    tensors.emplace("w", GlobalTensor({37 * scale, 24}, 10 + s));
    tensors.emplace("v", GlobalTensor({12 * scale, 40}, 20 + s));
    tensors.emplace("g", GlobalTensor({18 * scale, 22}, 30 + s));
    bias = RandomBytes(40 * 4, 40 + s);
  }

  // Rank r's boxes of tensor `name`.
  std::vector<TestBox> BoxesOf(const std::string& name, int r) const {
    const Dims& shape = tensors.at(name).shape;
    if (name == "w") {
      auto all = SplitAlong(shape, 0, 2 * world);
      return {all[r], all[r + world]};
    }
    if (name == "v") return {SplitAlong(shape, 1, world)[r]};
    if (world % 2 == 0 && world > 1) return {Grid(shape, 2, world / 2)[r]};
    return {SplitAlong(shape, 0, world)[r]};
  }

  std::vector<uint8_t> Rng(int r) const { return RandomBytes(16, 1000 + step * 100 + r); }
  std::vector<uint8_t> Cursor(int r) const { return RandomBytes(8, 2000 + step * 100 + r); }
};

// What rank r saves: it owns the bytes its request points into.
struct RankShard {
  std::vector<std::vector<uint8_t>> pieces;
  std::vector<uint8_t> bias, rng, cursor;
  SaveRequest request;

  RankShard(const ShardedState& s, const std::string& run, int r) {
    request.run = run;
    request.step = s.step;
    request.rank = static_cast<uint32_t>(r);
    request.world_size = static_cast<uint32_t>(s.world);
    request.meta.metrics["loss"] = 1.0 / static_cast<double>(s.step + 1);
    size_t count = 0;
    for (const auto& [name, t] : s.tensors) count += s.BoxesOf(name, r).size();
    pieces.reserve(count);
    for (const auto& [name, t] : s.tensors) {
      for (const TestBox& b : s.BoxesOf(name, r)) {
        pieces.push_back(t.Slice(b));
        TensorView v{name, DType::kF32, b.shape, pieces.back().data(), pieces.back().size()};
        v.global_shape = t.shape;
        v.offsets = b.offsets;
        request.tensors.push_back(v);
      }
    }
    bias = s.bias;
    rng = s.Rng(r);
    cursor = s.Cursor(r);
    request.tensors.push_back({"bias", DType::kF32, {40}, bias.data(), bias.size()});
    TensorView c{"cursor", DType::kU8, {8}, cursor.data(), cursor.size()};
    c.rank_local = true;
    request.tensors.push_back(c);
    BlobView rb{"rng", rng.data(), rng.size()};
    rb.rank_local = true;
    request.blobs.push_back(rb);
  }
};

}  // namespace ckpt::test
