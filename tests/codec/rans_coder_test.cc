// The rANS coder against htscodecs' public entry points: the same streams,
// whichever kernel this process chose, and malformed streams refused.
#include "codec/rans_coder.h"

#include <htscodecs/rANS_static4x16.h>

#include <catch2/catch.hpp>
#include <cstring>
#include <random>
#include <string>
#include <vector>

using namespace ckpt::internal;

namespace {

std::vector<uint8_t> PublicStream(const std::vector<uint8_t>& in, int order) {
  std::vector<uint8_t> out(rans_compress_bound_4x16(static_cast<unsigned>(in.size()), order));
  unsigned size = static_cast<unsigned>(out.size());
  REQUIRE(rans_compress_to_4x16(const_cast<uint8_t*>(in.data()), static_cast<unsigned>(in.size()),
                                out.data(), &size, order) != nullptr);
  out.resize(size);
  return out;
}

std::vector<uint8_t> Plane(size_t n, int kind, uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<uint8_t> p(n);
  for (auto& b : p) {
    switch (kind) {
      case 0:
        b = 7;
        break;  // constant
      case 1:
        b = static_cast<uint8_t>(rng());
        break;  // random
      case 2:
        b = static_cast<uint8_t>(120 + __builtin_ctz(rng() | 256));
        break;  // skewed
      default:
        b = static_cast<uint8_t>(rng() % 3 == 0 ? rng() % 16 : 0);
        break;  // sparse
    }
  }
  return p;
}

}  // namespace

TEST_CASE("rANS coder writes htscodecs' own stream and reads it back", "[codec][rans]") {
  if (__builtin_cpu_supports("avx2") && std::string(RansDecoderName()) == "public")
    WARN("htscodecs' AVX2 kernels are not used here: every plane pays for its CPU detection");
  INFO("encoder kernel: " << RansEncoderName() << ", decoder kernel: " << RansDecoderName());
  for (size_t n : {256, 257, 1000, 4095, 65536 + 37, 131072, 1 << 20}) {
    for (int kind = 0; kind < 4; ++kind) {
      const std::vector<uint8_t> plane = Plane(n, kind, static_cast<uint32_t>(n + kind));
      const std::vector<uint8_t> reference = PublicStream(plane, RANS_ORDER_X32);
      INFO("n " << n << " kind " << kind);
      std::vector<uint8_t> stream(RansBound(n));
      size_t size = 0;
      REQUIRE(RansEncode(plane.data(), n, stream.data(), &size));
      stream.resize(size);
      CHECK(stream == reference);
      std::vector<uint8_t> back(n);
      REQUIRE(RansDecode(reference.data(), reference.size(), back.data(), n));
      CHECK(back == plane);
    }
  }
}

TEST_CASE("rANS coder reads the order-0 streams its encoder writes", "[codec][rans]") {
  const std::vector<uint8_t> plane = Plane(50000, 2, 3);
  for (int order : {0, RANS_ORDER_X32, RANS_ORDER_CAT, RANS_ORDER_X32 | RANS_ORDER_CAT}) {
    const std::vector<uint8_t> stream = PublicStream(plane, order);
    std::vector<uint8_t> back(plane.size());
    INFO("order " << order);
    REQUIRE(RansDecode(stream.data(), stream.size(), back.data(), back.size()));
    CHECK(back == plane);
  }
}

TEST_CASE("rANS coder refuses orders and layouts its encoder never writes", "[codec][rans]") {
  // Order 1, striped, RLE and packed streams carry inner sizes that the
  // public decoder allocates as stated: a damaged entry must not get there.
  const std::vector<uint8_t> plane = Plane(50000, 2, 3);
  for (int order : {1, RANS_ORDER_X32 | 1, RANS_ORDER_STRIPE}) {
    const std::vector<uint8_t> stream = PublicStream(plane, order);
    std::vector<uint8_t> back(plane.size());
    INFO("order " << order);
    CHECK_FALSE(RansDecode(stream.data(), stream.size(), back.data(), back.size()));
  }
  // Headers alone are enough to refuse (the encoder may drop RLE or packing
  // when they do not help, so these are written by hand).
  for (uint8_t flag : {0x10, 0x40, 0x80}) {
    INFO("order byte " << int{flag});
    std::vector<uint8_t> stream = {flag, 0x80 | 0x03, 0x10};  // uint7 length 400
    stream.resize(64, 0x55);
    std::vector<uint8_t> back(400);
    CHECK_FALSE(RansDecode(stream.data(), stream.size(), back.data(), back.size()));
  }
  // A stream whose stated length is not the one asked for.
  std::vector<uint8_t> stream = PublicStream(plane, RANS_ORDER_X32);
  std::vector<uint8_t> back(plane.size() + 1);
  CHECK_FALSE(RansDecode(stream.data(), stream.size(), back.data(), back.size()));
}

TEST_CASE("rANS coder refuses streams that do not decode to the length asked", "[codec][rans]") {
  const std::vector<uint8_t> plane = Plane(65536, 2, 5);
  const std::vector<uint8_t> stream = PublicStream(plane, RANS_ORDER_X32);
  std::vector<uint8_t> back(plane.size() + 1);
  CHECK_FALSE(RansDecode(stream.data(), stream.size(), back.data(), plane.size() + 1));
  CHECK_FALSE(RansDecode(stream.data(), stream.size(), back.data(), plane.size() - 1));
  CHECK_FALSE(RansDecode(stream.data(), 1, back.data(), plane.size()));
  CHECK_FALSE(RansDecode(stream.data(), 0, back.data(), plane.size()));
  // A length prefix that never ends.
  std::vector<uint8_t> endless = {RANS_ORDER_X32, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF};
  CHECK_FALSE(RansDecode(endless.data(), endless.size(), back.data(), plane.size()));
}

TEST_CASE("rANS coder survives garbage after a valid prefix", "[codec][rans]") {
  const std::vector<uint8_t> plane = Plane(32768, 2, 9);
  const std::vector<uint8_t> stream = PublicStream(plane, RANS_ORDER_X32);
  std::mt19937 rng(11);
  std::vector<uint8_t> back(plane.size());
  for (int round = 0; round < 200; ++round) {
    std::vector<uint8_t> damaged = stream;
    // Keep the order byte and the length: the kernel itself gets the garbage.
    const size_t keep = 4;
    for (size_t i = keep; i < damaged.size(); ++i)
      if (rng() % 8 == 0) damaged[i] = static_cast<uint8_t>(rng());
    damaged.resize(keep + rng() % (damaged.size() - keep));
    (void)RansDecode(damaged.data(), damaged.size(), back.data(), back.size());
  }
  SUCCEED("no crash, no out-of-bounds access (checked under AddressSanitizer)");
}
