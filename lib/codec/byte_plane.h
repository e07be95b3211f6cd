// codec/byte_plane: the byte-plane transform. Element i's byte j moves to
// plane j, so that the slowly varying sign/exponent bytes of floating-point
// values sit together and compress well, apart from the noisy low mantissa.
#pragma once

#include <cstddef>
#include <cstdint>

namespace ckpt::internal {

// Splits `size` bytes of `elem_size`-byte elements into planes at `dst`.
// A tail shorter than one element is copied unchanged at the end.
void BytePlaneSplit(const uint8_t* src, size_t size, size_t elem_size, uint8_t* dst);
// Inverse of BytePlaneSplit.
void BytePlaneJoin(const uint8_t* src, size_t size, size_t elem_size, uint8_t* dst);

}  // namespace ckpt::internal
