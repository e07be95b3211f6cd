// Round trips of the chunk codecs on fuzzer-given data: EncodeChunk then
// DecodeChunk, EncodeDelta then DecodeDelta, and the layers below
// (EncodePlaneBody / DecodePlaneBody, RansEncode / RansDecode, byte
// planes, element transforms). Every decode must give back the data.
//
// Input: control:u8 level:u8 score:u8, then the data (in delta mode its
// first half is the chunk and its second half the base).
//   control bits 0-1: element size 1, 2, 4, 8 (bit 2 set: 3, 5, 6 or 16)
//   bit 3: is_float; bits 4-5: planes choice (0 sample, 1 use, 2 skip);
//   bit 6: delta mode. level: zstd level 1..4. score: pre-seeded plane
//   score counts (0: no score), so the coders' shortcuts are exercised.
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "codec/byte_plane.h"
#include "codec/chunk_codec.h"
#include "codec/delta_codec.h"
#include "codec/element_transform.h"
#include "codec/plane_coder.h"
#include "codec/rans_coder.h"
#include "fuzz_util.h"
#include "hash/sha256.h"

using namespace ckpt::internal;

namespace {

// The plane score, pre-seeded from one byte of the input.
std::unique_ptr<PlaneScore> SeededScore(uint8_t seed) {
  if (seed == 0) return nullptr;
  auto score = std::make_unique<PlaneScore>();
  for (int j = 0; j < 8; ++j) {
    const int bits = (seed >> (j % 4 * 2)) & 3;
    score->zstd_wins[j] = static_cast<uint16_t>(bits & 1 ? 3 : 0);
    score->rans_wins[j] = static_cast<uint16_t>(bits & 2 ? 3 : 0);
    score->stored[j] = static_cast<uint16_t>(seed & 0x80 ? 0 : 1);
    score->coded[j] = static_cast<uint16_t>(seed & 0x40 ? 3 : 0);
  }
  return score;
}

void CheckChunk(const uint8_t* data, size_t size, const EncodeParams& params) {
  std::string encoded;
  const Codec codec = EncodeChunk(data, size, params, &encoded);
  FUZZ_CHECK(IsKnownCodec(static_cast<uint8_t>(codec)) &&
             !IsDeltaCodec(static_cast<uint8_t>(codec)));
  FUZZ_CHECK(encoded.size() <= size);
  if (codec == Codec::kRaw) FUZZ_CHECK(encoded.size() == size);
  std::unique_ptr<uint8_t[]> back(new uint8_t[size]);
  FUZZ_CHECK(DecodeChunk(codec, encoded.data(), encoded.size(), back.get(), size).ok());
  FUZZ_CHECK(size == 0 || std::memcmp(back.get(), data, size) == 0);
  if (codec == Codec::kZstd || codec_detail::PlanesOf(codec) != 0)
    FUZZ_CHECK(ChunkSelfChecked(codec, encoded.data(), encoded.size()));
  // One byte's damage anywhere in a self-checked entry is an error.
  if (ChunkSelfChecked(codec, encoded.data(), encoded.size()) && !encoded.empty()) {
    std::string damaged = encoded;
    damaged[size % damaged.size()] ^= 0x10;
    std::unique_ptr<uint8_t[]> out(new uint8_t[size]);
    ckpt::Status s = DecodeChunk(codec, damaged.data(), damaged.size(), out.get(), size);
    FUZZ_CHECK(!s.ok() || std::memcmp(out.get(), data, size) == 0);
  }
}

void CheckDelta(const uint8_t* data, const uint8_t* base, size_t size, const EncodeParams& params) {
  const Digest base_digest = Sha256(base, size);
  std::string encoded;
  const size_t limit = size + kDeltaHeaderSize + 1;  // accept any delta
  const Codec codec = EncodeDelta(data, base, base_digest, size, params, limit, &encoded);
  if (codec == Codec::kRaw) return;
  FUZZ_CHECK(IsDeltaCodec(static_cast<uint8_t>(codec)));
  FUZZ_CHECK(encoded.size() < limit);
  Digest d;
  FUZZ_CHECK(DeltaBaseOf(encoded, &d).ok() && d == base_digest);
  FUZZ_CHECK(DeltaSelfChecked(codec, encoded));
  std::unique_ptr<uint8_t[]> back(new uint8_t[size]);
  FUZZ_CHECK(DecodeDelta(codec, encoded, base, back.get(), size).ok());
  FUZZ_CHECK(size == 0 || std::memcmp(back.get(), data, size) == 0);
  // In place over a copy of the base, as loads do.
  std::vector<uint8_t> in_place(base, base + size);
  FUZZ_CHECK(DecodeDelta(codec, encoded, in_place.data(), in_place.data(), size).ok());
  FUZZ_CHECK(size == 0 || std::memcmp(in_place.data(), data, size) == 0);
}

void CheckLayers(const uint8_t* data, size_t size, size_t elem, int level, PlaneScore* score) {
  // Byte planes, for any element size.
  std::vector<uint8_t> planes(size), joined(size);
  BytePlaneSplit(data, size, elem, planes.data());
  BytePlaneJoin(planes.data(), size, elem, joined.data());
  FUZZ_CHECK(std::equal(joined.begin(), joined.end(), data));
  if (elem == 2 || elem == 4 || elem == 8) {
    const size_t count = size / elem;
    std::vector<uint8_t> rotated(count * elem), back(count * elem);
    RotateSignToLow(data, count, elem, rotated.data());
    RotateSignToHigh(rotated.data(), count, elem, back.data());
    FUZZ_CHECK(std::equal(back.begin(), back.end(), data));
    // Plane bodies.
    std::string body = "prefix";
    const size_t n = EncodePlaneBody(planes.data(), size, elem, level, score, &body);
    FUZZ_CHECK(n > 0 && body.size() == 6 + n);
    std::vector<uint8_t> decoded(size);
    FUZZ_CHECK(DecodePlaneBody(reinterpret_cast<const uint8_t*>(body.data()) + 6, n, elem,
                               decoded.data(), size)
                   .ok());
    FUZZ_CHECK(decoded == planes);
  }
  // rANS on its own.
  if (size > 0) {
    std::vector<uint8_t> stream(RansBound(size));
    size_t stream_size = 0;
    if (RansEncode(data, size, stream.data(), &stream_size)) {
      FUZZ_CHECK(stream_size <= stream.size());
      std::vector<uint8_t> back(size);
      FUZZ_CHECK(RansDecode(stream.data(), stream_size, back.data(), size));
      FUZZ_CHECK(std::equal(back.begin(), back.end(), data));
      // Any other declared length is refused.
      std::vector<uint8_t> longer(size + 1);
      FUZZ_CHECK(!RansDecode(stream.data(), stream_size, longer.data(), size + 1));
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* input, size_t input_size) {
  ckpt::fuzz::Input in(input, input_size);
  const uint8_t control = in.Byte();
  const int level = 1 + in.Byte() % 4;
  const uint8_t seed = in.Byte();
  const std::string_view rest = in.Rest();
  std::vector<uint8_t> data(rest.begin(), rest.end());
  data.reserve(data.size() + 1);  // never a null pointer, as callers never pass one

  static constexpr size_t kSizes[] = {1, 2, 4, 8}, kOddSizes[] = {3, 5, 6, 16};
  const size_t elem = (control & 4 ? kOddSizes : kSizes)[control & 3];
  auto score = SeededScore(seed);
  EncodeParams params;
  params.elem_size = elem;
  params.is_float = control & 8;
  params.zstd_level = level;
  params.planes = static_cast<PlanesChoice>(((control >> 4) & 3) % 3);
  params.plane_score = score.get();

  if (control & 0x40) {
    const size_t half = data.size() / 2;
    std::vector<uint8_t> chunk(data.begin(), data.begin() + half);
    std::vector<uint8_t> base(data.begin() + half, data.begin() + 2 * half);
    chunk.reserve(half + 1);
    base.reserve(half + 1);
    CheckDelta(chunk.data(), base.data(), half, params);
  } else {
    CheckChunk(data.data(), data.size(), params);
    CheckLayers(data.data(), data.size(), elem, level, score.get());
  }
  return 0;
}
