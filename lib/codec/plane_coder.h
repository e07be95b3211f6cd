// codec/plane_coder: byte planes, each entropy-coded on its own. The planes
// of floating-point data differ: the exponent plane is skewed, low mantissa
// planes are nearly random, delta planes mostly zero. Each plane gets the
// coder that suits it: rANS order-0 (the CRAM 3.1 rANS-Nx16 codec, from
// htscodecs), which codes a skewed byte distribution within a fraction of a
// bit of its entropy where zstd's Huffman literals lose up to a bit per
// byte; zstd where long runs make matches pay; or the plane stored as it
// is. Pure: bytes in, bytes out.
//
// Body (after any codec-specific prefix, see delta_codec.h):
//   checksum:u64le    XXH3-64 (seed 0) of the rest of the body, from
//                     method[0] to the end of the tail
//   method:u8 × k     per plane: 0 stored, 1 zstd frame, 2 rANS-Nx16
//   length:u32le × k  per plane: bytes of its payload
//   payload × k       plane j, n = floor(size / k) bytes when decoded
//   tail              the last size - n×k bytes, unchanged
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <string>

#include "ckpt/status.h"

namespace ckpt::internal {

// Per tensor and plane, what earlier chunks taught, so that most chunks
// pay for one coder: how often zstd beat rANS, and lost to it, on a plane
// that rANS shrank below an eighth (mostly runs): once one has won twice
// and the other never, only the winner is tried; and how often the plane was
// stored or coded: once it was coded twice and never stored, its entropy
// is no longer estimated first. Shared by the threads encoding one tensor.
struct PlaneScore {
  std::atomic<uint16_t> zstd_wins[8] = {};
  std::atomic<uint16_t> rans_wins[8] = {};
  std::atomic<uint16_t> stored[8] = {};
  std::atomic<uint16_t> coded[8] = {};
};

// Per-plane coding methods, persisted in bodies; never renumber.
enum class PlaneMethod : uint8_t { kStored = 0, kZstd = 1, kRans = 2 };

// Appends the body of `size` bytes of byte planes at `planes` (k planes, as
// BytePlaneSplit lays them out) to `out`; zstd, where tried, runs at
// `zstd_level`. `score` (may be null) remembers which coder wins per plane
// across the chunks of one tensor. Returns the bytes appended (never 0).
// REQUIRES: k is 2, 4 or 8; size < 4 GiB.
size_t EncodePlaneBody(const uint8_t* planes, size_t size, size_t k, int zstd_level,
                       PlaneScore* score, std::string* out);

// Checks the body's checksum, then decodes a body of `encoded_size` bytes
// into `size` bytes of byte planes at `planes`. Errors: kCorruption if the
// checksum does not match, the body is malformed, or a plane does not
// decode to its length.
Status DecodePlaneBody(const uint8_t* encoded, size_t encoded_size, size_t k, uint8_t* planes,
                       size_t size);

}  // namespace ckpt::internal
