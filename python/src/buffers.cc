#include "buffers.h"

#include <cstring>

namespace ckpt::py_ext {

HeldBuffer::HeldBuffer(py::handle obj, const std::string& what, bool writable) {
  if (!PyObject_CheckBuffer(obj.ptr())) {
    throw py::type_error(what +
                         ": expected an object with the buffer protocol (e.g. a NumPy "
                         "array), got " +
                         std::string(py::str(py::type::of(obj).attr("__name__"))));
  }
  int flags = PyBUF_RECORDS_RO;
  if (writable) flags |= PyBUF_WRITABLE;
  if (PyObject_GetBuffer(obj.ptr(), &view_, flags) != 0) {
    PyErr_Clear();
    throw py::value_error(what + (writable ? ": buffer is not writable" : ": buffer unavailable"));
  }
  held_ = true;
  if (!PyBuffer_IsContiguous(&view_, 'C')) {
    throw py::value_error(what + ": array is not C-contiguous (use numpy.ascontiguousarray)");
  }
}

HeldBuffer::HeldBuffer(HeldBuffer&& other) noexcept : view_(other.view_), held_(other.held_) {
  other.held_ = false;
}

HeldBuffer::~HeldBuffer() {
  if (held_) PyBuffer_Release(&view_);
}

std::optional<DType> DTypeOfBuffer(const Py_buffer& view) {
  const char* f = view.format ? view.format : "B";
  // Native or little-endian byte order only: ckpt stores little-endian bytes.
  if (*f == '@' || *f == '=' || *f == '<') ++f;
  if (std::strlen(f) != 1) return std::nullopt;
  const char c = *f;
  const Py_ssize_t n = view.itemsize;
  if (c == '?') return DType::kBool;
  if (c == 'e' && n == 2) return DType::kF16;
  if (c == 'f' && n == 4) return DType::kF32;
  if (c == 'd' && n == 8) return DType::kF64;
  if (std::strchr("bhilq", c)) {
    switch (n) {
      case 1:
        return DType::kI8;
      case 2:
        return DType::kI16;
      case 4:
        return DType::kI32;
      case 8:
        return DType::kI64;
    }
  }
  if (std::strchr("BHILQc", c)) {
    switch (n) {
      case 1:
        return DType::kU8;
      case 2:
        return DType::kU16;
      case 4:
        return DType::kU32;
      case 8:
        return DType::kU64;
    }
  }
  return std::nullopt;
}

py::dtype NumpyDType(DType dtype) {
  switch (dtype) {
    case DType::kBool:
      return py::dtype("bool");
    case DType::kU8:
      return py::dtype("uint8");
    case DType::kI8:
      return py::dtype("int8");
    case DType::kF8E5M2:
    case DType::kF8E4M3:
      return py::dtype("uint8");
    case DType::kI16:
      return py::dtype("int16");
    case DType::kU16:
      return py::dtype("uint16");
    case DType::kF16:
      return py::dtype("float16");
    case DType::kBF16:
      return py::dtype("uint16");
    case DType::kI32:
      return py::dtype("int32");
    case DType::kU32:
      return py::dtype("uint32");
    case DType::kF32:
      return py::dtype("float32");
    case DType::kF64:
      return py::dtype("float64");
    case DType::kI64:
      return py::dtype("int64");
    case DType::kU64:
      return py::dtype("uint64");
  }
  return py::dtype("uint8");
}

}  // namespace ckpt::py_ext
