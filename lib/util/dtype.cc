// util/dtype: the table of element types shared by every layer.
#include "ckpt/dtype.h"

#include <array>

namespace ckpt {
namespace {

struct DTypeRow {
  DType dtype;
  std::string_view name;
  size_t size;
  bool is_float;
};

constexpr std::array<DTypeRow, 15> kTable = {{
    {DType::kBool, "BOOL", 1, false},
    {DType::kU8, "U8", 1, false},
    {DType::kI8, "I8", 1, false},
    {DType::kF8E5M2, "F8_E5M2", 1, true},
    {DType::kF8E4M3, "F8_E4M3", 1, true},
    {DType::kI16, "I16", 2, false},
    {DType::kU16, "U16", 2, false},
    {DType::kF16, "F16", 2, true},
    {DType::kBF16, "BF16", 2, true},
    {DType::kI32, "I32", 4, false},
    {DType::kU32, "U32", 4, false},
    {DType::kF32, "F32", 4, true},
    {DType::kF64, "F64", 8, true},
    {DType::kI64, "I64", 8, false},
    {DType::kU64, "U64", 8, false},
}};

const DTypeRow* Find(DType dtype) {
  for (const auto& row : kTable)
    if (row.dtype == dtype) return &row;
  return nullptr;
}

}  // namespace

size_t DTypeSize(DType dtype) {
  const DTypeRow* row = Find(dtype);
  return row ? row->size : 1;
}

bool DTypeIsFloat(DType dtype) {
  const DTypeRow* row = Find(dtype);
  return row && row->is_float;
}

std::string_view DTypeName(DType dtype) {
  const DTypeRow* row = Find(dtype);
  return row ? row->name : "UNKNOWN";
}

std::optional<DType> DTypeFromName(std::string_view name) {
  for (const auto& row : kTable)
    if (row.name == name) return row.dtype;
  return std::nullopt;
}

std::optional<DType> DTypeFromValue(uint8_t value) {
  for (const auto& row : kTable)
    if (static_cast<uint8_t>(row.dtype) == value) return row.dtype;
  return std::nullopt;
}

}  // namespace ckpt
