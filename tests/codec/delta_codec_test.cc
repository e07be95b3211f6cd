// The delta codec on its own: lossless for every element size, smaller than
// plain zstd for nearby values, and loud about damaged entries.
#include "codec/delta_codec.h"

#include <catch2/catch.hpp>
#include <cstring>

#include "codec/byte_plane.h"
#include "test_util.h"

using namespace ckpt::internal;
using ckpt::Code;
using ckpt::test::RandomBytes;

namespace {

// `base` with the low byte of every `elem`-byte element changed, as an
// optimizer step moves low mantissa bits; for bytes, one in eight.
std::vector<uint8_t> Nudged(const std::vector<uint8_t>& base, size_t elem, uint64_t seed) {
  std::vector<uint8_t> out = base;
  auto noise = RandomBytes(base.size() / elem + 1, seed);
  size_t stride = elem == 1 ? 8 : elem;
  for (size_t i = 0; i + elem <= out.size(); i += stride) out[i] ^= noise[i / elem];
  return out;
}

EncodeParams FloatParams(size_t elem) {
  EncodeParams p;
  p.elem_size = elem;
  p.is_float = true;
  return p;
}

}  // namespace

TEST_CASE("deltas round trip bit-exact for every element size", "[unit][codec]") {
  for (size_t elem : {1, 2, 4, 8}) {
    for (size_t size : {size_t{4096}, size_t{65536 + 3}}) {
      INFO("elem " << elem << ", size " << size);
      auto base = RandomBytes(size, elem * 11);
      auto data = Nudged(base, elem, elem * 13);
      Digest base_digest = Sha256(base.data(), base.size());
      std::string encoded;
      EncodeParams params = FloatParams(elem);
      params.is_float = elem != 1;
      Codec codec =
          EncodeDelta(data.data(), base.data(), base_digest, size, params, size, &encoded);
      REQUIRE(IsDeltaCodec(static_cast<uint8_t>(codec)));
      Digest named;
      REQUIRE(DeltaBaseOf(encoded, &named).ok());
      CHECK(named == base_digest);
      std::vector<uint8_t> out(size);
      REQUIRE(DecodeDelta(codec, encoded, base.data(), out.data(), size).ok());
      CHECK(out == data);
      // In place over the base, as chain decoding does.
      std::vector<uint8_t> in_place = base;
      REQUIRE(DecodeDelta(codec, encoded, in_place.data(), in_place.data(), size).ok());
      CHECK(in_place == data);
    }
  }
}

TEST_CASE("a delta of nearby floats beats their plain encoding", "[unit][codec]") {
  auto base = RandomBytes(256 * 1024, 5);
  auto data = Nudged(base, 4, 6);
  std::string plain, delta;
  EncodeChunk(data.data(), data.size(), FloatParams(4), &plain);
  Codec codec = EncodeDelta(data.data(), base.data(), Sha256(base.data(), base.size()), data.size(),
                            FloatParams(4), plain.size(), &delta);
  CHECK(codec == Codec::kDeltaSubPlanes4);
  CHECK(delta.size() * 3 < plain.size());  // 3 of 4 planes are zero
}

TEST_CASE("a delta that is not smaller than the limit is refused", "[unit][codec]") {
  auto base = RandomBytes(65536, 1);
  auto data = RandomBytes(65536, 2);  // unrelated: XOR is noise
  std::string out;
  CHECK(EncodeDelta(data.data(), base.data(), Digest{}, data.size(), FloatParams(4), data.size(),
                    &out) == Codec::kRaw);
}

TEST_CASE("damaged delta entries are corruption", "[unit][codec]") {
  auto base = RandomBytes(65536, 1);
  auto data = Nudged(base, 4, 2);
  std::string encoded;
  Codec codec = EncodeDelta(data.data(), base.data(), Digest{}, data.size(), FloatParams(4),
                            data.size(), &encoded);
  REQUIRE(IsDeltaCodec(static_cast<uint8_t>(codec)));
  std::vector<uint8_t> out(data.size());
  Digest d;
  CHECK(DeltaBaseOf(encoded.substr(0, 31), &d).code() == Code::kCorruption);
  CHECK(DecodeDelta(codec, encoded.substr(0, 20), base.data(), out.data(), out.size()).code() ==
        Code::kCorruption);
  CHECK(
      DecodeDelta(codec, encoded.substr(0, encoded.size() - 4), base.data(), out.data(), out.size())
          .code() == Code::kCorruption);
  CHECK(DecodeDelta(codec, encoded, base.data(), out.data(), out.size() - 1).code() ==
        Code::kCorruption);
  CHECK(DecodeDelta(Codec::kZstd, encoded, base.data(), out.data(), out.size()).code() ==
        Code::kCorruption);
}

TEST_CASE("single-frame plane deltas of development formats are refused", "[unit][codec]") {
  // Unreleased formats 2-3 stored one zstd frame of the XOR's planes as codecs 17..19.
  auto base = RandomBytes(65536, 3);
  auto data = Nudged(base, 4, 4);
  std::vector<uint8_t> diff(data.size()), planes(data.size());
  for (size_t i = 0; i < data.size(); ++i) diff[i] = data[i] ^ base[i];
  BytePlaneSplit(diff.data(), diff.size(), 4, planes.data());
  std::string frame;
  REQUIRE(codec_detail::ZstdInto(planes.data(), planes.size(), 1, &frame) > 0);
  const Digest base_digest = Sha256(base.data(), base.size());
  const std::string encoded = std::string(base_digest.View()) + frame;
  std::vector<uint8_t> out(data.size());
  for (int id : {17, 18, 19})
    CHECK(
        DecodeDelta(static_cast<Codec>(id), encoded, base.data(), out.data(), out.size()).code() ==
        Code::kCorruption);
}
