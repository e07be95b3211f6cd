// codec/: how one chunk's bytes are encoded for storage. Owns the codec ids
// (persisted per chunk in pack entries and the index) and zstd. Pure: bytes
// in, bytes out; no I/O.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "ckpt/status.h"

namespace ckpt::internal {

// Persisted; never renumber. Ids 16..31 are reserved for delta codecs.
enum class Codec : uint8_t {
  kRaw = 0,          // the bytes as they are
  kZstd = 1,         // zstd frame of the bytes
  kZstdPlanes2 = 2,  // zstd frame of the byte planes of 2-byte elements
  kZstdPlanes4 = 3,  // ... of 4-byte elements
  kZstdPlanes8 = 4,  // ... of 8-byte elements
  // Format 4: byte planes, one zstd frame per plane (plane_frames.h).
  kZstdPlaneFrames2 = 5,  // planes of 2-byte elements
  kZstdPlaneFrames4 = 6,  // ... of 4-byte elements
  kZstdPlaneFrames8 = 7,  // ... of 8-byte elements
  // Deltas against a base chunk (see delta_codec.h).
  kDeltaXor = 16,         // zstd frame of chunk XOR base
  kDeltaXorPlanes2 = 17,  // ... byte planes of 2-byte elements of chunk XOR base
  kDeltaXorPlanes4 = 18,  // ... of 4-byte elements
  kDeltaXorPlanes8 = 19,  // ... of 8-byte elements
  // Format 4: planes of chunk XOR base, one zstd frame per plane.
  kDeltaXorPlaneFrames2 = 20,  // planes of 2-byte elements
  kDeltaXorPlaneFrames4 = 21,  // ... of 4-byte elements
  kDeltaXorPlaneFrames8 = 22,  // ... of 8-byte elements
};

// True for the kDeltaXor* codecs, whose entries name a base chunk.
inline bool IsDeltaCodec(uint8_t value) { return value >= 16 && value <= 22; }

// The zstd level of plane frames and delta frames for a store of level
// `store_level`. On byte planes and deltas zstd's fastest strategy (level
// 1) measured both faster and smaller than level 3: a plane holds few
// matches worth finding, and level 3's extra ones cost more than they save
// (on the sign/exponent plane of f32 weights 12% smaller; on bf16 deltas
// 7%). Levels up to 3 use 1; a store that asked for more gets it.
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
};

// True if plane frames beat plain zstd on a 16 KiB sample of `data`.
// Always false for non-float data or element sizes other than 2, 4, 8.
bool PlanesHelp(const void* data, size_t size, const EncodeParams& params);

// Encodes `size` bytes into `out` as zstd, or byte planes with one zstd
// frame per plane (see EncodeParams::planes), or raw when compression does
// not make it smaller.
// Compresses each chunk once.
Codec EncodeChunk(const void* data, size_t size, const EncodeParams& params, std::string* out);

// Decodes `encoded` into exactly `raw_size` bytes at `dst`. Errors:
// kCorruption if the encoding is malformed or has another length.
// REQUIRES: !IsDeltaCodec(codec) (deltas need their base: delta_codec.h).
Status DecodeChunk(Codec codec, const void* encoded, size_t encoded_size, void* dst,
                   size_t raw_size);

// True if decoding `encoded` (a non-delta entry) checks its own result:
// its zstd frame carries a content checksum, which DecodeChunk verifies.
// Frames written by ckpt 0.1.0 before format 3 have none, raw entries none.
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
// Per-thread scratch of at least `size` bytes (reused: no page faults).
uint8_t* Scratch(size_t size);
// Element size of a plane codec (old single-frame or plane-frames), else 0.
size_t PlanesOf(Codec codec);
// True for the plane-frames codecs (5..7, 20..22).
bool IsPlaneFrames(Codec codec);
}  // namespace codec_detail

}  // namespace ckpt::internal
