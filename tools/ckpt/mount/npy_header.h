// mount/npy_header: the header of a NumPy .npy file (format version 1.0)
// for a C-ordered array, so a tensor's bytes behind it read as an array with
// numpy.load, also with mmap_mode="r".
//
// NumPy has no bfloat16 or float8 types: BF16 tensors appear as "<u2" and
// F8 tensors as "|u1" holding the raw bits (view them with ml_dtypes or
// torch as the real type); the stored bytes are the same either way.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "ckpt/dtype.h"

namespace ckpt::mount {

// The NumPy type string for `dtype`, e.g. "<f4".
std::string NpyDescr(DType dtype);

// The complete header: magic, version, length and the padded dict; its size
// is a multiple of 64, as NumPy writes it, so the data that follows is
// aligned for mmap.
std::string NpyHeader(DType dtype, const std::vector<int64_t>& shape);

}  // namespace ckpt::mount
