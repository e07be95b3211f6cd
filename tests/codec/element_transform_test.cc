// codec/element_transform: the vector loops and the scalar tails must agree
// with the definitions, and each transform must invert.
#include "codec/element_transform.h"

#include <catch2/catch.hpp>
#include <cstring>
#include <vector>

#include "test_util.h"

using namespace ckpt::internal;

namespace {

uint64_t Get(const std::vector<uint8_t>& b, size_t i, size_t k) {
  uint64_t v = 0;
  std::memcpy(&v, b.data() + i * k, k);  // little-endian host
  return v;
}

uint64_t Mask(size_t k) { return k == 8 ? ~uint64_t{0} : (uint64_t{1} << (8 * k)) - 1; }

}  // namespace

TEST_CASE("element transforms match their definitions and invert", "[unit][codec]") {
  const size_t k = GENERATE(size_t{2}, size_t{4}, size_t{8});
  const size_t count = GENERATE(size_t{1}, size_t{7}, size_t{8}, size_t{33}, size_t{4099});
  INFO("k " << k << ", count " << count);
  const auto a = ckpt::test::RandomBytes(count * k, 3 * count + k);
  auto b = a;  // nearby values, and some far ones, in both directions
  const auto noise = ckpt::test::RandomBytes(count, count + k);
  for (size_t i = 0; i < count; ++i) b[i * k] = static_cast<uint8_t>(b[i * k] + noise[i] % 7 - 3);
  const uint64_t mask = Mask(k), bits = 8 * k;

  std::vector<uint8_t> out(count * k), back(count * k);
  RotateSignToLow(a.data(), count, k, out.data());
  for (size_t i = 0; i < count; ++i)
    CHECK(Get(out, i, k) == (((Get(a, i, k) << 1) | (Get(a, i, k) >> (bits - 1))) & mask));
  RotateSignToHigh(out.data(), count, k, back.data());
  CHECK(back == a);

  ZigzagDifference(b.data(), a.data(), count, k, out.data());
  for (size_t i = 0; i < count; ++i) {
    const uint64_t w = (Get(b, i, k) - Get(a, i, k)) & mask;
    const uint64_t negative = w >> (bits - 1);
    CHECK(Get(out, i, k) == (((w << 1) & mask) ^ (negative ? mask : 0)));
  }
  ZigzagUndo(out.data(), a.data(), count, k, back.data());
  CHECK(back == b);
  ZigzagUndo(out.data(), a.data(), count, k, out.data());  // in place over the diff
  CHECK(out == b);
}
