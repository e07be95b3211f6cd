// manifest/box: box geometry and the byte runs a piece shares with a region,
// checked against element-by-element copies.
#include "manifest/box.h"

#include <catch2/catch.hpp>
#include <cstring>
#include <random>

using namespace ckpt::internal;

namespace {

// Copies `piece`'s bytes (elements numbered 0.. row-major in the piece, one
// byte each) into `region` element by element: what SharedRuns must match.
std::vector<int> Expected(const Box& piece, const Box& region) {
  int64_t n = 1;
  for (int64_t d : region.shape) n *= d;
  std::vector<int> out(static_cast<size_t>(n), -1);
  std::vector<int64_t> at(region.shape.size(), 0);
  for (int64_t k = 0; k < n; ++k) {
    bool inside = true;
    int64_t src = 0;
    for (size_t d = 0; d < at.size(); ++d) {
      const int64_t g = region.offsets[d] + at[d];
      if (g < piece.offsets[d] || g >= piece.offsets[d] + piece.shape[d]) inside = false;
      src = src * piece.shape[d] + (g - piece.offsets[d]);
    }
    if (inside) out[static_cast<size_t>(k)] = static_cast<int>(src);
    for (size_t d = at.size(); d-- > 0;) {
      if (++at[d] < region.shape[d]) break;
      at[d] = 0;
    }
  }
  return out;
}

std::vector<int> FromRuns(const std::vector<ByteRun>& runs, const Box& region) {
  int64_t n = 1;
  for (int64_t d : region.shape) n *= d;
  std::vector<int> out(static_cast<size_t>(n), -1);
  for (const ByteRun& r : runs)
    for (uint64_t i = 0; i < r.length; ++i) out[r.dst + i] = static_cast<int>(r.src + i);
  return out;
}

}  // namespace

TEST_CASE("shared runs match an element-by-element copy", "[unit][manifest][box]") {
  std::mt19937 rng(7);
  for (int trial = 0; trial < 2000; ++trial) {
    const size_t rank = 1 + rng() % 4;
    std::vector<int64_t> shape(rank);
    for (auto& d : shape) d = 1 + rng() % 6;
    auto random_box = [&] {
      Box b{std::vector<int64_t>(rank), std::vector<int64_t>(rank)};
      for (size_t d = 0; d < rank; ++d) {
        b.offsets[d] = rng() % shape[d];
        b.shape[d] = 1 + rng() % (shape[d] - b.offsets[d]);
      }
      return b;
    };
    const Box piece = random_box(), region = random_box();
    REQUIRE(BoxInside(piece, shape));
    auto runs = SharedRuns(piece, region, 1);
    CHECK(FromRuns(runs, region) == Expected(piece, region));
    for (size_t i = 1; i < runs.size(); ++i)
      CHECK(runs[i - 1].src + runs[i - 1].length <= runs[i].src);
    uint64_t total = 0;
    for (const auto& r : runs) total += r.length;
    CHECK(total == OverlapElements(piece, region));
    CHECK(BoxesOverlap(piece, region) == (total > 0));
  }
}

TEST_CASE("a row shard read whole is one run", "[unit][manifest][box]") {
  const Box piece{{4, 0}, {3, 100}}, whole{{0, 0}, {10, 100}};
  auto runs = SharedRuns(piece, whole, 4);
  REQUIRE(runs.size() == 1);
  CHECK(runs[0].src == 0);
  CHECK(runs[0].dst == 4 * 100 * 4);
  CHECK(runs[0].length == 3 * 100 * 4);
  // A column shard: one run per row.
  CHECK(SharedRuns({{0, 10}, {10, 20}}, whole, 4).size() == 10);
  // A scalar.
  auto scalar = SharedRuns({{}, {}}, {{}, {}}, 8);
  REQUIRE(scalar.size() == 1);
  CHECK(scalar[0].length == 8);
}

TEST_CASE("boxes outside their tensor are refused with a reason", "[unit][manifest][box]") {
  std::string why;
  CHECK_FALSE(BoxInside({{0, 5}, {2, 6}}, {4, 10}, &why));
  CHECK_THAT(why, Catch::Contains("dimension 1"));
  CHECK_FALSE(BoxInside({{0}, {2}}, {4, 10}, &why));
  CHECK_FALSE(BoxInside({{-1, 0}, {2, 2}}, {4, 10}, &why));
  CHECK(BoxInside({{4, 10}, {0, 0}}, {4, 10}));
  CHECK_FALSE(ElementCount({int64_t{1} << 40, int64_t{1} << 30}).has_value());
  CHECK(ElementCount({3, 0, 5}) == 0u);
}
