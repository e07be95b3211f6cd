// codec/byte_plane: the transform must be a bijection for every element size
// and length, including a tail shorter than one element.
#include "codec/byte_plane.h"

#include <catch2/catch.hpp>
#include <vector>

#include "test_util.h"

TEST_CASE("byte-plane join inverts split, tails included", "[unit][codec]") {
  const size_t elem = GENERATE(size_t{2}, size_t{4}, size_t{8});
  const size_t size =
      GENERATE(size_t{0}, size_t{1}, size_t{7}, size_t{64}, size_t{1001}, size_t{4099});
  const std::vector<uint8_t> src = ckpt::test::RandomBytes(size, 100 + size + elem);
  std::vector<uint8_t> planes(size), back(size);
  ckpt::internal::BytePlaneSplit(src.data(), size, elem, planes.data());
  ckpt::internal::BytePlaneJoin(planes.data(), size, elem, back.data());
  CHECK(back == src);

  // The tail past the last whole element is copied unchanged.
  const size_t whole = size / elem * elem;
  CHECK(std::vector<uint8_t>(planes.begin() + static_cast<std::ptrdiff_t>(whole), planes.end()) ==
        std::vector<uint8_t>(src.begin() + static_cast<std::ptrdiff_t>(whole), src.end()));
}

TEST_CASE("byte-plane split groups byte j of every element", "[unit][codec]") {
  // Three 4-byte elements: AaBb planes are element bytes 0..3 in turn.
  const std::vector<uint8_t> src = {0x10, 0x11, 0x12, 0x13, 0x20, 0x21, 0x22,
                                    0x23, 0x30, 0x31, 0x32, 0x33, 0xee};
  std::vector<uint8_t> planes(src.size());
  ckpt::internal::BytePlaneSplit(src.data(), src.size(), 4, planes.data());
  CHECK(planes == std::vector<uint8_t>{0x10, 0x20, 0x30, 0x11, 0x21, 0x31, 0x12, 0x22, 0x32, 0x13,
                                       0x23, 0x33, 0xee});
}

TEST_CASE("byte-plane split with an unsupported element size copies", "[unit][codec]") {
  const size_t elem = GENERATE(size_t{0}, size_t{1}, size_t{3});
  const std::vector<uint8_t> src = ckpt::test::RandomBytes(37, 5);
  std::vector<uint8_t> planes(src.size());
  ckpt::internal::BytePlaneSplit(src.data(), src.size(), elem, planes.data());
  CHECK(planes == src);
}

TEST_CASE("byte-plane split and join match the definition on long inputs", "[unit][codec]") {
  // Long enough for the vector loops (16 elements at a time) and their tails.
  const size_t elem = GENERATE(size_t{2}, size_t{4}, size_t{8});
  const size_t count = GENERATE(size_t{16}, size_t{17}, size_t{31}, size_t{4096 + 5});
  const size_t size = count * elem + 1;
  const std::vector<uint8_t> src = ckpt::test::RandomBytes(size, 7 * count + elem);
  std::vector<uint8_t> expected(size);
  for (size_t i = 0; i < count; ++i)
    for (size_t j = 0; j < elem; ++j) expected[j * count + i] = src[i * elem + j];
  expected[size - 1] = src[size - 1];
  std::vector<uint8_t> planes(size), back(size);
  ckpt::internal::BytePlaneSplit(src.data(), size, elem, planes.data());
  CHECK(planes == expected);
  ckpt::internal::BytePlaneJoin(expected.data(), size, elem, back.data());
  CHECK(back == src);
}
