// codec/: how one chunk's bytes are encoded for storage. Owns the codec ids
// (persisted per chunk in pack entries and the index) and zstd. Pure: bytes
// in, bytes out; no I/O.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "ckpt/status.h"

namespace ckpt::internal {

struct PlaneScore;

// Persisted; never renumber. Ids 16..31 are reserved for delta codecs.
// Ids 2..4 and 17..19 belonged to unreleased development formats: never
// reuse them; this library does not decode them (see docs/format.md).
enum class Codec : uint8_t {
  kRaw = 0,   // the bytes as they are
  kZstd = 1,  // zstd frame of the bytes
  // Elements rotated (sign bit to bit 0), byte planes, each plane coded on
  // its own (plane_coder.h).
  kFloatPlanes2 = 5,  // 2-byte elements
  kFloatPlanes4 = 6,  // 4-byte elements
  kFloatPlanes8 = 7,  // 8-byte elements
  // Deltas against a base chunk (see delta_codec.h).
  kDeltaXor = 16,  // zstd frame of chunk XOR base
  // zigzag(chunk - base) per element, byte planes, each plane coded on its
  // own.
  kDeltaSubPlanes2 = 20,  // 2-byte elements
  kDeltaSubPlanes4 = 21,  // 4-byte elements
  kDeltaSubPlanes8 = 22,  // 8-byte elements
};

// True for the delta codecs, whose entries name a base chunk.
inline bool IsDeltaCodec(uint8_t value) { return value == 16 || (value >= 20 && value <= 22); }

// The zstd level of delta frames and of zstd-coded planes for a store of
// level `store_level`. On byte planes and deltas zstd's fastest strategy
// (level 1) measured both faster and smaller than level 3: a plane holds
// few matches worth finding, and level 3's extra ones cost more than they
// save (bf16 deltas: 7% smaller). Levels up to 3 use 1; a store that asked
// for more gets it.
inline int PlaneZstdLevel(int store_level) { return store_level <= 3 ? 1 : store_level; }

bool IsKnownCodec(uint8_t value);
const char* CodecName(Codec codec);

enum class PlanesChoice : uint8_t { kDecideBySample, kUse, kSkip };

struct EncodeParams {
  size_t elem_size = 1;   // bytes per element of the tensor the chunk is cut from
  bool is_float = false;  // may try the byte-plane transform
  int zstd_level = 3;
  // Whether to apply byte planes before zstd (floats only). Callers that
  // encode many chunks of one tensor decide once with PlanesHelp and pass
  // kUse/kSkip, so the trial compression is paid once per tensor.
  PlanesChoice planes = PlanesChoice::kDecideBySample;
  // Which coder won on each plane so far, for this tensor (may be null;
  // see plane_coder.h). Plain and delta encodings need one each.
  PlaneScore* plane_score = nullptr;
};

// True if float planes beat plain zstd on a 16 KiB sample of `data`.
// Always false for non-float data or element sizes other than 2, 4, 8.
bool PlanesHelp(const void* data, size_t size, const EncodeParams& params);

// Encodes `size` bytes into `out` as zstd, or as float planes (see
// EncodeParams::planes), or raw when compression does not make it smaller.
// Compresses each chunk once.
Codec EncodeChunk(const void* data, size_t size, const EncodeParams& params, std::string* out);

// Decodes `encoded` into exactly `raw_size` bytes at `dst`. Errors:
// kCorruption if the encoding is malformed or has another length.
// REQUIRES: !IsDeltaCodec(codec) (deltas need their base: delta_codec.h).
Status DecodeChunk(Codec codec, const void* encoded, size_t encoded_size, void* dst,
                   size_t raw_size);

// True if decoding `encoded` (a non-delta entry) checks its own result:
// its zstd frame carries a content checksum, or its plane body a checksum,
// which DecodeChunk verifies. Frames written before format 3 have none, raw
// entries none.
bool ChunkSelfChecked(Codec codec, const void* encoded, size_t encoded_size);

// Lower-level pieces shared with delta_codec.
namespace codec_detail {
// zstd frame of `size` bytes into `out`; returns its size, 0 on failure.
size_t ZstdInto(const void* data, size_t size, int level, std::string* out);
// True if `frame` is a zstd frame with a content checksum.
bool HasContentChecksum(const void* frame, size_t size);
// Decodes a zstd frame of exactly `raw_size` bytes into `dst`, checking
// its content checksum if it has one.
Status ZstdFrom(const void* encoded, size_t encoded_size, void* dst, size_t raw_size);
// Per-thread scratch of at least `size` bytes (reused: no page faults),
// and a second one for a transform's output while Scratch holds planes.
uint8_t* Scratch(size_t size);
uint8_t* TransformScratch(size_t size);
// Element size of a plane codec (float planes or delta-sub planes), else 0.
size_t PlanesOf(Codec codec);
// Decodes a plane codec's plane body into `raw_size` bytes of planes at
// `planes`. The caller joins them and undoes its element transform.
// REQUIRES: PlanesOf(codec).
Status DecodePlanes(Codec codec, const void* body, size_t body_size, uint8_t* planes,
                    size_t raw_size);
}  // namespace codec_detail

}  // namespace ckpt::internal
