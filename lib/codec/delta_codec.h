// codec/delta_codec: lossless deltas between two chunks of equal length.
// A chunk that changed a little since the same chunk of the parent
// checkpoint (low mantissa bits after an optimizer step, a few rows of an
// embedding table) XORs with it to mostly zero bytes; byte planes then put
// the zeros together and zstd removes them. Pure: bytes in, bytes out.
//
// Stored entry of a delta chunk (IsDeltaCodec):
//   base_digest:32   SHA-256 of the base chunk's raw bytes
//   body             kDeltaXor: one zstd frame of (chunk XOR base)
//                    kDeltaSubPlanes*: the plane body (plane_coder.h) of
//                    the byte planes of zigzag(chunk - base), element by
//                    element
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "ckpt/status.h"
#include "codec/chunk_codec.h"
#include "hash/sha256.h"

namespace ckpt::internal {

// Bytes of an encoded delta entry before its zstd frame.
inline constexpr size_t kDeltaHeaderSize = Digest::kSize;

// Encodes `data` as its difference from `base` (both `size` bytes) into
// `out`, base digest first. Returns the codec used, or kRaw (and leaves
// `out` unspecified) when the delta would not be smaller than `limit`
// bytes, so the caller keeps its plain encoding.
Codec EncodeDelta(const void* data, const void* base, const Digest& base_digest, size_t size,
                  const EncodeParams& params, size_t limit, std::string* out);

// Reads the base digest from the start of an encoded delta entry.
Status DeltaBaseOf(std::string_view encoded, Digest* base);
// True if decoding the delta entry `encoded` of codec `codec` checks its
// own frames: each carries a content checksum (see ChunkSelfChecked).
bool DeltaSelfChecked(Codec codec, std::string_view encoded);

// Decodes delta entry `encoded` of codec `codec` against `base` (the base
// chunk's raw bytes, `raw_size` of them) into `dst`. `dst` may equal
// `base`. Errors: kCorruption.
Status DecodeDelta(Codec codec, std::string_view encoded, const uint8_t* base, uint8_t* dst,
                   size_t raw_size);

}  // namespace ckpt::internal
