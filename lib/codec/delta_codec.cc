#include "codec/delta_codec.h"

#include <cstring>
#include <vector>

#include "codec/byte_plane.h"
#include "codec/element_transform.h"
#include "codec/plane_coder.h"

namespace ckpt::internal {
namespace {

using codec_detail::Scratch;

using codec_detail::TransformScratch;

void XorInto(const uint8_t* a, const uint8_t* b, size_t size, uint8_t* out) {
  size_t i = 0;
  for (; i + 8 <= size; i += 8) {
    uint64_t x, y;
    std::memcpy(&x, a + i, 8);
    std::memcpy(&y, b + i, 8);
    x ^= y;
    std::memcpy(out + i, &x, 8);
  }
  for (; i < size; ++i) out[i] = a[i] ^ b[i];
}

Codec DeltaCodecFor(size_t planes) {
  switch (planes) {
    case 2:
      return Codec::kDeltaSubPlanes2;
    case 4:
      return Codec::kDeltaSubPlanes4;
    case 8:
      return Codec::kDeltaSubPlanes8;
    default:
      return Codec::kDeltaXor;
  }
}

}  // namespace

Codec EncodeDelta(const void* data, const void* base, const Digest& base_digest, size_t size,
                  const EncodeParams& params, size_t limit, std::string* out) {
  const auto* bytes = static_cast<const uint8_t*>(data);
  const auto* base_bytes = static_cast<const uint8_t*>(base);
  uint8_t* diff = TransformScratch(size);
  // Nearby floats differ by a small integer: its high bytes are zero, and
  // byte planes gather those zeros whether or not planes helped the plain
  // encoding. Other data (integers, blobs) changes in place: XOR.
  const size_t planes =
      params.is_float && (params.elem_size == 2 || params.elem_size == 4 || params.elem_size == 8)
          ? params.elem_size
          : 0;
  const int level = PlaneZstdLevel(params.zstd_level);
  size_t n;
  out->assign(base_digest.View());
  if (planes) {
    const size_t count = size / planes, whole = count * planes;
    ZigzagDifference(bytes, base_bytes, count, planes, diff);
    XorInto(bytes + whole, base_bytes + whole, size - whole, diff + whole);
    uint8_t* split = Scratch(size);
    BytePlaneSplit(diff, size, planes, split);
    n = EncodePlaneBody(split, size, planes, level, params.plane_score, out);
  } else {
    XorInto(bytes, base_bytes, size, diff);
    thread_local std::string frame;
    n = codec_detail::ZstdInto(diff, size, level, &frame);
    out->append(frame.data(), n);
  }
  if (n == 0 || kDeltaHeaderSize + n >= limit) return Codec::kRaw;
  return DeltaCodecFor(planes);
}

Status DeltaBaseOf(std::string_view encoded, Digest* base) {
  if (encoded.size() < kDeltaHeaderSize) return Status::Corruption("delta entry is truncated");
  *base = Digest::FromView(encoded.substr(0, kDeltaHeaderSize));
  return Status::OK();
}

bool DeltaSelfChecked(Codec codec, std::string_view encoded) {
  if (encoded.size() <= kDeltaHeaderSize) return false;
  const auto* frames = reinterpret_cast<const uint8_t*>(encoded.data()) + kDeltaHeaderSize;
  const size_t size = encoded.size() - kDeltaHeaderSize;
  if (codec_detail::PlanesOf(codec)) return true;  // the plane body's checksum
  return codec_detail::HasContentChecksum(frames, size);
}

Status DecodeDelta(Codec codec, std::string_view encoded, const uint8_t* base, uint8_t* dst,
                   size_t raw_size) {
  if (!IsDeltaCodec(static_cast<uint8_t>(codec)))
    return Status::Corruption("codec " + std::to_string(static_cast<int>(codec)) +
                              " is not a delta");
  if (encoded.size() < kDeltaHeaderSize) return Status::Corruption("delta entry is truncated");
  std::string_view frame = encoded.substr(kDeltaHeaderSize);
  const auto* body = reinterpret_cast<const uint8_t*>(frame.data());
  uint8_t* diff = TransformScratch(raw_size);
  const size_t planes = codec_detail::PlanesOf(codec);
  if (!planes) {
    CKPT_RETURN_IF_ERROR(codec_detail::ZstdFrom(body, frame.size(), diff, raw_size));
    XorInto(diff, base, raw_size, dst);
    return Status::OK();
  }
  uint8_t* split = Scratch(raw_size);
  CKPT_RETURN_IF_ERROR(codec_detail::DecodePlanes(codec, body, frame.size(), split, raw_size));
  BytePlaneJoin(split, raw_size, planes, diff);
  const size_t count = raw_size / planes, whole = count * planes;
  ZigzagUndo(diff, base, count, planes, dst);
  XorInto(diff + whole, base + whole, raw_size - whole, dst + whole);
  return Status::OK();
}

}  // namespace ckpt::internal
