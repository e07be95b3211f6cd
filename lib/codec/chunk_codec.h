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
  kRaw = 0,           // the bytes as they are
  kZstd = 1,          // zstd frame of the bytes
  kZstdPlanes2 = 2,   // zstd frame of the byte planes of 2-byte elements
  kZstdPlanes4 = 3,   // ... of 4-byte elements
  kZstdPlanes8 = 4,   // ... of 8-byte elements
};

bool IsKnownCodec(uint8_t value);
const char* CodecName(Codec codec);

struct EncodeParams {
  size_t elem_size = 1;   // bytes per element of the tensor the chunk is cut from
  bool is_float = false;  // may try the byte-plane transform
  int zstd_level = 3;
};

// Encodes `size` bytes into `out` with the smallest of: raw, zstd, and
// (for floats) byte planes + zstd. The choice between the last two is made
// on a sample of the chunk, so that each chunk is compressed only once.
Codec EncodeChunk(const void* data, size_t size, const EncodeParams& params, std::string* out);

// Decodes `encoded` into exactly `raw_size` bytes at `dst`. Errors:
// kCorruption if the encoding is malformed or has another length.
Status DecodeChunk(Codec codec, const void* encoded, size_t encoded_size, void* dst,
                   size_t raw_size);

}  // namespace ckpt::internal
