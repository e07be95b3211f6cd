// ckpt/dtype.h: element types of stored tensors, named as in safetensors.
//
// Thread-safety: pure functions. Stability: stable; values are persisted in
// manifests and never renumbered, new types only get new numbers.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

#include "ckpt/export.h"

namespace ckpt {

enum class DType : uint8_t {
  kBool = 1,
  kU8 = 2,
  kI8 = 3,
  kF8E5M2 = 4,
  kF8E4M3 = 5,
  kI16 = 6,
  kU16 = 7,
  kF16 = 8,
  kBF16 = 9,
  kI32 = 10,
  kU32 = 11,
  kF32 = 12,
  kF64 = 13,
  kI64 = 14,
  kU64 = 15,
};

// Size of one element in bytes (1 for BOOL and the F8 types).
CKPT_EXPORT size_t DTypeSize(DType dtype);
// True for the floating-point types, whose chunks may get the byte-plane transform.
CKPT_EXPORT bool DTypeIsFloat(DType dtype);
// The safetensors spelling, e.g. "BF16", "F8_E4M3".
CKPT_EXPORT std::string_view DTypeName(DType dtype);
// Parses the safetensors spelling; nullopt for an unknown name.
CKPT_EXPORT std::optional<DType> DTypeFromName(std::string_view name);
// Decodes a persisted value; nullopt if it names no known type.
CKPT_EXPORT std::optional<DType> DTypeFromValue(uint8_t value);

}  // namespace ckpt
