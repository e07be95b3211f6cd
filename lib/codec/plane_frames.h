// codec/plane_frames: byte planes compressed one zstd frame per plane.
// Each plane of a floating-point chunk has its own statistics: the
// sign/exponent plane is skewed and compresses well, the low mantissa
// planes are nearly random. One frame per plane gives each its own entropy
// tables (a single frame shares one table across plane boundaries), lets
// zstd store a random plane as raw blocks, and runs zstd's fastest
// strategy, which on such planes finds no useful matches anyway. Pure:
// bytes in, bytes out.
//
// Encoded body (after any codec-specific prefix, see delta_codec.h):
//   frame_length:u32le × k    length of each plane's frame, planes 0..k-1
//   frame × k                 zstd frame (with content checksum) of plane j,
//                             n = floor(size / k) bytes when decompressed
//   tail                      the last size - n×k bytes, unchanged
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "ckpt/status.h"

namespace ckpt::internal {

// Appends the body of `size` bytes of byte planes at `planes` (k planes, as
// BytePlaneSplit lays them out) to `out`. Returns the bytes appended, or 0
// if zstd failed. REQUIRES: k is 2, 4 or 8.
size_t EncodePlaneFrames(const uint8_t* planes, size_t size, size_t k, int level,
                         std::string* out);

// Decodes a body of `encoded_size` bytes into `size` bytes of byte planes at
// `planes`. Errors: kCorruption if the body is malformed, a frame fails its
// checksum or has another length.
Status DecodePlaneFrames(const uint8_t* encoded, size_t encoded_size, size_t k, uint8_t* planes,
                         size_t size);

// True if every frame of the body carries a content checksum.
bool PlaneFramesSelfChecked(const uint8_t* encoded, size_t encoded_size, size_t k);

}  // namespace ckpt::internal
