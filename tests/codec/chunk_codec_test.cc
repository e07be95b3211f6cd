// codec/chunk_codec: EncodeChunk picks the smallest of raw, zstd and byte
// planes + zstd, and DecodeChunk refuses anything that is not exactly the
// encoding of raw_size bytes.
#include "codec/chunk_codec.h"

#include <xxhash.h>

#include <catch2/catch.hpp>
#include <cmath>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "codec/byte_plane.h"
#include "codec/plane_coder.h"
#include "test_util.h"

using ckpt::Code;
using ckpt::internal::Codec;
using ckpt::internal::DecodeChunk;
using ckpt::internal::EncodeChunk;
using ckpt::internal::EncodeParams;

namespace {

EncodeParams Params(size_t elem_size, bool is_float) {
  EncodeParams p;
  p.elem_size = elem_size;
  p.is_float = is_float;
  return p;
}

// Encodes `data`, decodes it back, and returns the codec chosen.
Codec RoundTrip(const std::vector<uint8_t>& data, const EncodeParams& params,
                std::string* encoded) {
  Codec codec = EncodeChunk(data.data(), data.size(), params, encoded);
  std::vector<uint8_t> back(data.size());
  ckpt::Status s = DecodeChunk(codec, encoded->data(), encoded->size(), back.data(), back.size());
  REQUIRE(s.ok());
  CHECK(back == data);
  return codec;
}

// A slowly varying float32 signal, as weights of a trained layer look.
std::vector<uint8_t> SmoothF32(size_t count) {
  std::vector<uint8_t> out(count * 4);
  for (size_t i = 0; i < count; ++i) {
    float v = 0.5f + 0.25f * std::sin(static_cast<float>(i) * 0.001f);
    std::memcpy(out.data() + 4 * i, &v, 4);
  }
  return out;
}

// The same signal as bfloat16 (the top half of each float32).
std::vector<uint8_t> SmoothBF16(size_t count) {
  std::vector<uint8_t> f32 = SmoothF32(count), out(count * 2);
  for (size_t i = 0; i < count; ++i) {
    out[2 * i] = f32[4 * i + 2];
    out[2 * i + 1] = f32[4 * i + 3];
  }
  return out;
}

}  // namespace

TEST_CASE("random bytes are stored raw", "[unit][codec]") {
  const auto data = ckpt::test::RandomBytes(64 * 1024, 1);
  std::string encoded;
  CHECK(RoundTrip(data, Params(1, false), &encoded) == Codec::kRaw);
  CHECK(encoded.size() == data.size());
  // Random floats do not pay for planes either.
  CHECK(RoundTrip(data, Params(4, true), &encoded) == Codec::kRaw);
}

TEST_CASE("zeros are zstd-compressed to a small fraction", "[unit][codec]") {
  const std::vector<uint8_t> data(256 * 1024, 0);
  std::string encoded;
  CHECK(RoundTrip(data, Params(1, false), &encoded) == Codec::kZstd);
  CHECK(encoded.size() < data.size() / 100);
}

TEST_CASE("smooth float32 data gets the byte-plane codec", "[unit][codec]") {
  const auto data = SmoothF32(64 * 1024);
  std::string planar, plain;
  CHECK(RoundTrip(data, Params(4, true), &planar) == Codec::kFloatPlanes4);
  // The same bytes, not marked as floats, use plain zstd and compress worse.
  CHECK(RoundTrip(data, Params(4, false), &plain) == Codec::kZstd);
  CHECK(planar.size() < plain.size());
}

TEST_CASE("smooth bf16 data round trips with 2-byte planes", "[unit][codec]") {
  const auto data = SmoothBF16(64 * 1024);
  std::string encoded;
  EncodeParams params = Params(2, true);
  params.planes = ckpt::internal::PlanesChoice::kUse;
  CHECK(RoundTrip(data, params, &encoded) == Codec::kFloatPlanes2);
  CHECK(encoded.size() < data.size());
}

TEST_CASE("planar chunks with a partial trailing element round trip", "[unit][codec]") {
  auto data = SmoothF32(4096);
  data.push_back(0x5a);  // 16385 bytes: not a whole number of floats
  std::string encoded;
  CHECK(RoundTrip(data, Params(4, true), &encoded) == Codec::kFloatPlanes4);
}

TEST_CASE("DecodeChunk rejects truncated and garbled zstd frames", "[unit][codec]") {
  const std::vector<uint8_t> data(64 * 1024, 7);
  std::string encoded;
  REQUIRE(EncodeChunk(data.data(), data.size(), Params(1, false), &encoded) == Codec::kZstd);
  std::vector<uint8_t> out(data.size());

  SECTION("every truncation") {
    for (size_t n = 0; n < encoded.size(); ++n) {
      ckpt::Status s = DecodeChunk(Codec::kZstd, encoded.data(), n, out.data(), out.size());
      INFO("prefix " << n << " of " << encoded.size());
      CHECK(s.code() == Code::kCorruption);
    }
  }
  SECTION("garbled frame magic") {
    std::string bad = encoded;
    bad[0] = static_cast<char>(bad[0] ^ 0x5a);
    CHECK(DecodeChunk(Codec::kZstd, bad.data(), bad.size(), out.data(), out.size()).code() ==
          Code::kCorruption);
  }
  SECTION("garbage bytes") {
    const auto junk = ckpt::test::RandomBytes(100, 9);
    for (Codec c : {Codec::kZstd, Codec::kFloatPlanes2, Codec::kFloatPlanes4, Codec::kFloatPlanes8})
      CHECK(DecodeChunk(c, junk.data(), junk.size(), out.data(), out.size()).code() ==
            Code::kCorruption);
  }
}

TEST_CASE("DecodeChunk rejects a raw_size that is not the encoded one", "[unit][codec]") {
  const std::vector<uint8_t> data(8192, 3);
  std::vector<uint8_t> out(data.size() + 1);
  std::string zstd;
  REQUIRE(EncodeChunk(data.data(), data.size(), Params(1, false), &zstd) == Codec::kZstd);
  CHECK(DecodeChunk(Codec::kZstd, zstd.data(), zstd.size(), out.data(), data.size() - 1).code() ==
        Code::kCorruption);
  CHECK(DecodeChunk(Codec::kZstd, zstd.data(), zstd.size(), out.data(), data.size() + 1).code() ==
        Code::kCorruption);

  const auto random = ckpt::test::RandomBytes(100, 4);
  CHECK(DecodeChunk(Codec::kRaw, random.data(), random.size(), out.data(), 99).code() ==
        Code::kCorruption);
  CHECK(DecodeChunk(Codec::kRaw, random.data(), random.size(), out.data(), 101).code() ==
        Code::kCorruption);
}

TEST_CASE("DecodeChunk rejects unknown codec ids", "[unit][codec]") {
  const std::vector<uint8_t> data(100, 1);
  std::vector<uint8_t> out(data.size());
  // 2..4 and 17..19: codecs of unreleased development formats.
  for (int id : {2, 3, 4, 8, 15, 17, 18, 19, 23, 31, 255}) {
    INFO("codec " << id);
    CHECK_FALSE(ckpt::internal::IsKnownCodec(static_cast<uint8_t>(id)));
    ckpt::Status s =
        DecodeChunk(static_cast<Codec>(id), data.data(), data.size(), out.data(), out.size());
    CHECK_FALSE(s.ok());
    CHECK(s.code() == Code::kCorruption);
  }
  for (int id : {0, 1, 5, 6, 7, 16, 20, 21, 22})
    CHECK(ckpt::internal::IsKnownCodec(static_cast<uint8_t>(id)));
  CHECK(std::string(ckpt::internal::CodecName(Codec::kFloatPlanes4)) == "float-planes4");
}

TEST_CASE("zstd frames carry a content checksum that catches a flipped byte", "[unit][codec]") {
  std::string encoded;
  const std::vector<uint8_t> data = SmoothF32(16384);
  const Codec codec = RoundTrip(data, Params(4, true), &encoded);
  REQUIRE(codec != Codec::kRaw);
  CHECK(ckpt::internal::ChunkSelfChecked(codec, encoded.data(), encoded.size()));
  CHECK_FALSE(ckpt::internal::ChunkSelfChecked(Codec::kRaw, data.data(), data.size()));
  // Past the header: a flipped literal still parses, only the checksum
  // can tell.
  for (size_t at : {encoded.size() / 2, encoded.size() - 6}) {
    std::string damaged = encoded;
    damaged[at] = static_cast<char>(damaged[at] ^ 0x10);
    std::vector<uint8_t> back(data.size());
    ckpt::Status s = DecodeChunk(codec, damaged.data(), damaged.size(), back.data(), back.size());
    CHECK(s.code() == Code::kCorruption);
  }
}

TEST_CASE("float planes: every truncation, a wrong length, a flipped byte are corruption",
          "[unit][codec]") {
  const auto data = SmoothF32(8192);
  std::string encoded;
  REQUIRE(EncodeChunk(data.data(), data.size(), Params(4, true), &encoded) == Codec::kFloatPlanes4);
  REQUIRE(ckpt::internal::ChunkSelfChecked(Codec::kFloatPlanes4, encoded.data(), encoded.size()));
  std::vector<uint8_t> out(data.size());
  for (size_t n = 0; n < encoded.size(); ++n) {
    INFO("prefix " << n << " of " << encoded.size());
    CHECK(DecodeChunk(Codec::kFloatPlanes4, encoded.data(), n, out.data(), out.size()).code() ==
          Code::kCorruption);
  }
  // Header: checksum (8), methods (4), lengths (4 x 4); any byte flipped
  // after the checksum, header or payload, fails it.
  for (size_t at = 8; at < encoded.size(); at += at < 28 ? 1 : 97) {
    INFO("flipped byte " << at);
    std::string flipped = encoded;
    flipped[at] = static_cast<char>(flipped[at] ^ 0x10);
    CHECK(DecodeChunk(Codec::kFloatPlanes4, flipped.data(), flipped.size(), out.data(), out.size())
              .code() == Code::kCorruption);
  }
}

TEST_CASE("plane bodies with a matching checksum but garbage payloads are corruption",
          "[unit][codec]") {
  const auto data = SmoothF32(4096);
  std::string encoded;
  REQUIRE(EncodeChunk(data.data(), data.size(), Params(4, true), &encoded) == Codec::kFloatPlanes4);
  std::vector<uint8_t> out(data.size());
  for (uint64_t seed = 1; seed <= 50; ++seed) {
    std::string garbled = encoded;
    const auto junk = ckpt::test::RandomBytes(garbled.size() - 28, seed);
    std::memcpy(garbled.data() + 28, junk.data(), junk.size());
    const uint64_t sum = XXH3_64bits(garbled.data() + 8, garbled.size() - 8);
    std::memcpy(garbled.data(), &sum, 8);  // so the decoders see the garbage
    CHECK(DecodeChunk(Codec::kFloatPlanes4, garbled.data(), garbled.size(), out.data(), out.size())
              .code() == Code::kCorruption);
  }
}

TEST_CASE("single-frame plane chunks of development formats are refused", "[unit][codec]") {
  // Unreleased formats 1-3 stored one zstd frame of all planes as codecs 2..4.
  for (int id : {2, 3, 4}) {
    INFO("codec " << id);
    const auto data = SmoothF32(4096);
    std::vector<uint8_t> planes(data.size());
    ckpt::internal::BytePlaneSplit(data.data(), data.size(), 4, planes.data());
    std::string frame;
    REQUIRE(ckpt::internal::codec_detail::ZstdInto(planes.data(), planes.size(), 3, &frame) > 0);
    std::vector<uint8_t> out(data.size());
    CHECK(DecodeChunk(static_cast<Codec>(id), frame.data(), frame.size(), out.data(), out.size())
              .code() == Code::kCorruption);
  }
}

// Found by fuzzing (tests/fuzz/corpus/chunk_roundtrip/crash-empty-plane-null):
// the stored planes of an empty chunk were copied with memcpy from a null
// buffer, undefined behaviour that UndefinedBehaviorSanitizer reports.
TEST_CASE("an empty plane body decodes into a null buffer", "[unit][codec]") {
  const uint8_t none = 0;
  std::string body;
  const size_t n = ckpt::internal::EncodePlaneBody(&none, 0, 4, 1, nullptr, &body);
  REQUIRE(n == body.size());
  CHECK(ckpt::internal::DecodePlaneBody(reinterpret_cast<const uint8_t*>(body.data()), n, 4,
                                        nullptr, 0)
            .ok());
  // Through DecodeChunk on a fresh thread, whose plane scratch is still empty.
  ckpt::Status s;
  std::thread([&] {
    uint8_t out = 0;
    s = DecodeChunk(Codec::kFloatPlanes4, body.data(), body.size(), &out, 0);
  }).join();
  CHECK(s.ok());
}

// Found by fuzzing (tests/fuzz/corpus/chunk_roundtrip/crash-empty-planar-encode):
// float planes of an empty chunk copied its (empty) tail into the transform
// scratch with memcpy, which is still null on a fresh thread: undefined
// behaviour that UndefinedBehaviorSanitizer reports.
TEST_CASE("an empty chunk encodes as float planes on a fresh thread", "[unit][codec]") {
  EncodeParams params = Params(4, true);
  params.planes = ckpt::internal::PlanesChoice::kUse;
  const uint8_t none = 0;
  std::string encoded;
  Codec codec = Codec::kZstd;
  std::thread([&] { codec = EncodeChunk(&none, 0, params, &encoded); }).join();
  CHECK(codec == Codec::kRaw);
  CHECK(encoded.empty());
}
