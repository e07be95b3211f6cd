// bf16.h: float32 -> bfloat16 conversion for the exported copy of the head.
#pragma once

#include <cstdint>
#include <cstring>

namespace demo {

// Rounds to nearest, ties to even, as PyTorch's .to(torch.bfloat16) does, so
// the stored copy matches what a trainer would export.
inline uint16_t FloatToBf16(float value) {
  uint32_t bits;
  std::memcpy(&bits, &value, sizeof bits);
  if ((bits & 0x7fffffffu) > 0x7f800000u) return static_cast<uint16_t>((bits >> 16) | 0x40);  // NaN
  bits += 0x7fffu + ((bits >> 16) & 1u);
  return static_cast<uint16_t>(bits >> 16);
}

}  // namespace demo
