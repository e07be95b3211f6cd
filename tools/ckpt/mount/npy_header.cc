#include "mount/npy_header.h"

namespace ckpt::mount {

std::string NpyDescr(DType dtype) {
  switch (dtype) {
    case DType::kBool:
      return "|b1";
    case DType::kU8:
      return "|u1";
    case DType::kI8:
      return "|i1";
    case DType::kF8E5M2:
    case DType::kF8E4M3:
      return "|u1";
    case DType::kI16:
      return "<i2";
    case DType::kU16:
      return "<u2";
    case DType::kF16:
      return "<f2";
    case DType::kBF16:
      return "<u2";
    case DType::kI32:
      return "<i4";
    case DType::kU32:
      return "<u4";
    case DType::kF32:
      return "<f4";
    case DType::kF64:
      return "<f8";
    case DType::kI64:
      return "<i8";
    case DType::kU64:
      return "<u8";
  }
  return "|u1";
}

std::string NpyHeader(DType dtype, const std::vector<int64_t>& shape) {
  // Python tuple syntax: "()", "(5,)", "(2, 3)".
  std::string dims;
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i > 0) dims += ", ";
    dims += std::to_string(shape[i]);
  }
  if (shape.size() == 1) dims += ",";
  std::string dict =
      "{'descr': '" + NpyDescr(dtype) + "', 'fortran_order': False, 'shape': (" + dims + "), }";
  constexpr size_t kPrefix = 10;  // magic (6), version (2), length (2)
  constexpr size_t kAlign = 64;
  const size_t total = (kPrefix + dict.size() + 1 + kAlign - 1) / kAlign * kAlign;
  dict.append(total - kPrefix - dict.size() - 1, ' ');
  dict += '\n';
  std::string header("\x93NUMPY\x01\x00", 8);
  header += static_cast<char>(dict.size() & 0xff);
  header += static_cast<char>(dict.size() >> 8);
  return header + dict;
}

}  // namespace ckpt::mount
