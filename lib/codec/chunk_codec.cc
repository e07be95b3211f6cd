#include "codec/chunk_codec.h"

#include <zstd.h>

#include <algorithm>
#include <cstring>
#include <memory>
#include <vector>

#include "codec/byte_plane.h"
#include "codec/element_transform.h"
#include "codec/plane_coder.h"

namespace ckpt::internal {
namespace {

constexpr size_t kSampleSize = 16 * 1024;

struct CCtxDeleter {
  void operator()(ZSTD_CCtx* c) const { ZSTD_freeCCtx(c); }
};
struct DCtxDeleter {
  void operator()(ZSTD_DCtx* d) const { ZSTD_freeDCtx(d); }
};

// Contexts are reused per thread: creating one costs more than compressing
// a small chunk.
ZSTD_CCtx* ThreadCCtx() {
  thread_local std::unique_ptr<ZSTD_CCtx, CCtxDeleter> ctx(ZSTD_createCCtx());
  return ctx.get();
}
ZSTD_DCtx* ThreadDCtx() {
  thread_local std::unique_ptr<ZSTD_DCtx, DCtxDeleter> ctx(ZSTD_createDCtx());
  return ctx.get();
}

Codec FloatPlanesCodec(size_t elem_size) {
  switch (elem_size) {
    case 2:
      return Codec::kFloatPlanes2;
    case 4:
      return Codec::kFloatPlanes4;
    default:
      return Codec::kFloatPlanes8;
  }
}

// Rotated elements, byte planes, plane body of `size` bytes into `out`
// (replacing it). A tail shorter than an element is not rotated.
size_t EncodePlanar(const uint8_t* bytes, size_t size, size_t elem_size, int store_level,
                    PlaneScore* score, std::string* out) {
  const size_t count = size / elem_size;
  uint8_t* rotated = codec_detail::TransformScratch(size);
  RotateSignToLow(bytes, count, elem_size, rotated);
  if (size > count * elem_size)  // memcpy forbids null, which empty scratch may be
    std::memcpy(rotated + count * elem_size, bytes + count * elem_size, size - count * elem_size);
  uint8_t* planes = codec_detail::Scratch(size);
  BytePlaneSplit(rotated, size, elem_size, planes);
  out->clear();
  return EncodePlaneBody(planes, size, elem_size, PlaneZstdLevel(store_level), score, out);
}

bool PlanarElemSize(size_t elem_size) { return elem_size == 2 || elem_size == 4 || elem_size == 8; }

}  // namespace

namespace codec_detail {

size_t ZstdInto(const void* data, size_t size, int level, std::string* out) {
  out->resize(ZSTD_compressBound(size));
  ZSTD_CCtx* cctx = ThreadCCtx();
  // The frame carries zstd's checksum of its content (XXH64, 4 bytes):
  // decoding then catches damage at a fraction of the cost of SHA-256, which
  // lets a save trust the delta bases it reads (see ChunkSelfChecked).
  if (ZSTD_isError(ZSTD_CCtx_setParameter(cctx, ZSTD_c_compressionLevel, level)) ||
      ZSTD_isError(ZSTD_CCtx_setParameter(cctx, ZSTD_c_checksumFlag, 1)))
    return 0;
  size_t n = ZSTD_compress2(cctx, out->data(), out->size(), data, size);
  if (ZSTD_isError(n)) return 0;
  out->resize(n);
  return n;
}

Status ZstdFrom(const void* encoded, size_t encoded_size, void* dst, size_t raw_size) {
  size_t n = ZSTD_decompressDCtx(ThreadDCtx(), dst, raw_size, encoded, encoded_size);
  if (ZSTD_isError(n)) return Status::Corruption(std::string("zstd: ") + ZSTD_getErrorName(n));
  if (n != raw_size) return Status::Corruption("decoded chunk has the wrong length");
  return Status::OK();
}

bool HasContentChecksum(const void* frame, size_t size) {
  // RFC 8878 §3.1.1: magic 0xFD2FB528 (little-endian), then the frame
  // header descriptor, whose bit 2 is Content_Checksum_Flag.
  const auto* p = static_cast<const uint8_t*>(frame);
  return size >= 5 && p[0] == 0x28 && p[1] == 0xB5 && p[2] == 0x2F && p[3] == 0xFD &&
         (p[4] & 0x04) != 0;
}

size_t PlanesOf(Codec codec) {
  switch (codec) {
    case Codec::kFloatPlanes2:
    case Codec::kDeltaSubPlanes2:
      return 2;
    case Codec::kFloatPlanes4:
    case Codec::kDeltaSubPlanes4:
      return 4;
    case Codec::kFloatPlanes8:
    case Codec::kDeltaSubPlanes8:
      return 8;
    default:
      return 0;
  }
}

Status DecodePlanes(Codec codec, const void* body, size_t body_size, uint8_t* planes,
                    size_t raw_size) {
  return DecodePlaneBody(static_cast<const uint8_t*>(body), body_size, PlanesOf(codec), planes,
                         raw_size);
}

// A fresh buffer per chunk would cost a page fault and a zero fill for
// every 4 KiB of it. One per thread and slot.
template <int kSlot>
uint8_t* ThreadBuffer(size_t size) {
  thread_local std::vector<uint8_t> scratch;
  if (scratch.size() < size) scratch.resize(size);
  return scratch.data();
}

uint8_t* Scratch(size_t size) { return ThreadBuffer<0>(size); }
uint8_t* TransformScratch(size_t size) { return ThreadBuffer<1>(size); }

}  // namespace codec_detail

using codec_detail::PlanesOf;
using codec_detail::Scratch;
using codec_detail::ZstdFrom;
using codec_detail::ZstdInto;

bool PlanesHelp(const void* data, size_t size, const EncodeParams& params) {
  if (!params.is_float || !PlanarElemSize(params.elem_size)) return false;
  size_t n = std::min(size, kSampleSize) / params.elem_size * params.elem_size;
  if (n == 0) return false;
  std::string a, b;
  size_t plain = ZstdInto(data, n, params.zstd_level, &a);
  size_t split = EncodePlanar(static_cast<const uint8_t*>(data), n, params.elem_size,
                              params.zstd_level, nullptr, &b);
  return split != 0 && (plain == 0 || split < plain);
}

bool ChunkSelfChecked(Codec codec, const void* encoded, size_t encoded_size) {
  switch (codec) {
    case Codec::kZstd:
      return codec_detail::HasContentChecksum(encoded, encoded_size);
    case Codec::kFloatPlanes2:
    case Codec::kFloatPlanes4:
    case Codec::kFloatPlanes8:
      return true;  // the plane body's checksum
    default:
      return false;
  }
}

bool IsKnownCodec(uint8_t value) {
  return value <= static_cast<uint8_t>(Codec::kZstd) ||
         (value >= static_cast<uint8_t>(Codec::kFloatPlanes2) &&
          value <= static_cast<uint8_t>(Codec::kFloatPlanes8)) ||
         IsDeltaCodec(value);
}

const char* CodecName(Codec codec) {
  switch (codec) {
    case Codec::kRaw:
      return "raw";
    case Codec::kZstd:
      return "zstd";
    case Codec::kDeltaXor:
      return "delta-xor+zstd";
    case Codec::kFloatPlanes2:
      return "float-planes2";
    case Codec::kFloatPlanes4:
      return "float-planes4";
    case Codec::kFloatPlanes8:
      return "float-planes8";
    case Codec::kDeltaSubPlanes2:
      return "delta-sub-planes2";
    case Codec::kDeltaSubPlanes4:
      return "delta-sub-planes4";
    case Codec::kDeltaSubPlanes8:
      return "delta-sub-planes8";
  }
  return "unknown";
}

Codec EncodeChunk(const void* data, size_t size, const EncodeParams& params, std::string* out) {
  const auto* bytes = static_cast<const uint8_t*>(data);
  bool planar =
      params.is_float && PlanarElemSize(params.elem_size) &&
      (params.planes == PlanesChoice::kUse ||
       (params.planes == PlanesChoice::kDecideBySample && PlanesHelp(data, size, params)));
  size_t n = planar ? EncodePlanar(bytes, size, params.elem_size, params.zstd_level,
                                   params.plane_score, out)
                    : ZstdInto(bytes, size, params.zstd_level, out);
  if (n == 0 || n >= size) {
    out->assign(reinterpret_cast<const char*>(bytes), size);
    return Codec::kRaw;
  }
  return planar ? FloatPlanesCodec(params.elem_size) : Codec::kZstd;
}

Status DecodeChunk(Codec codec, const void* encoded, size_t encoded_size, void* dst,
                   size_t raw_size) {
  if (codec == Codec::kRaw) {
    if (encoded_size != raw_size) return Status::Corruption("raw chunk has the wrong length");
    std::memcpy(dst, encoded, raw_size);
    return Status::OK();
  }
  if (codec == Codec::kZstd) return ZstdFrom(encoded, encoded_size, dst, raw_size);
  const size_t elem = PlanesOf(codec);
  if (elem == 0 || IsDeltaCodec(static_cast<uint8_t>(codec)))
    return Status::Corruption("unknown codec " + std::to_string(static_cast<int>(codec)));
  uint8_t* planes = Scratch(raw_size);
  auto* out = static_cast<uint8_t*>(dst);
  CKPT_RETURN_IF_ERROR(codec_detail::DecodePlanes(codec, encoded, encoded_size, planes, raw_size));
  BytePlaneJoin(planes, raw_size, elem, out);
  RotateSignToHigh(out, raw_size / elem, elem, out);
  return Status::OK();
}

}  // namespace ckpt::internal
