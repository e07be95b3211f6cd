// codec/element_transform: reversible per-element transforms of k-byte
// little-endian elements (k = 2, 4, 8), applied before byte planes.
// - Rotation moves the sign bit of an IEEE float to bit 0, so the top byte
//   holds exponent bits only: for F32 and BF16 exactly the 8-bit exponent,
//   a plane whose skew an entropy coder can use, apart from the random sign.
// - The zigzag difference of two nearby floats (as integers, modulo 2^(8k))
//   is a small number: it has leading zero bytes even where an XOR would
//   not (1.0 - 0x3f7fffff is 1; their XOR has 24 set bits), and zigzag folds
//   small negative differences onto small positive ones.
// Pure functions over byte buffers; `count` elements each.
#pragma once

#include <cstddef>
#include <cstdint>

namespace ckpt::internal {

// dst[i] = rotl(src[i], 1). REQUIRES: k is 2, 4 or 8.
void RotateSignToLow(const uint8_t* src, size_t count, size_t k, uint8_t* dst);
// Inverse of RotateSignToLow. `dst` may equal `src`.
void RotateSignToHigh(const uint8_t* src, size_t count, size_t k, uint8_t* dst);
// dst[i] = zigzag(data[i] - base[i]).
void ZigzagDifference(const uint8_t* data, const uint8_t* base, size_t count, size_t k,
                      uint8_t* dst);
// dst[i] = base[i] + unzigzag(diff[i]), the inverse. `dst` may equal `base`
// or `diff`.
void ZigzagUndo(const uint8_t* diff, const uint8_t* base, size_t count, size_t k, uint8_t* dst);

}  // namespace ckpt::internal
