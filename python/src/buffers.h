// Buffer-protocol access for the extension: tensors are read in place.
#pragma once

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <optional>
#include <string>

#include "ckpt/dtype.h"

namespace ckpt::py_ext {

namespace py = pybind11;

// Holds a Py_buffer for as long as it lives, so that the exporter (a NumPy
// array, a bytearray) keeps its memory in place and cannot be resized.
class HeldBuffer {
 public:
  // Takes a C-contiguous view of `obj`. Raises TypeError if `obj` has no
  // buffer protocol, ValueError if it is not C-contiguous or (when
  // `writable`) read-only. `what` names it in the message.
  HeldBuffer(py::handle obj, const std::string& what, bool writable = false);
  HeldBuffer(HeldBuffer&& other) noexcept;
  HeldBuffer(const HeldBuffer&) = delete;
  HeldBuffer& operator=(const HeldBuffer&) = delete;
  HeldBuffer& operator=(HeldBuffer&&) = delete;
  ~HeldBuffer();

  const Py_buffer& view() const { return view_; }
  void* data() const { return view_.buf; }
  size_t size() const { return static_cast<size_t>(view_.len); }

 private:
  Py_buffer view_{};
  bool held_ = false;
};

// The ckpt dtype of a buffer's elements, from its struct format and item
// size; nullopt for formats ckpt has no type for (complex, big-endian, ...).
std::optional<DType> DTypeOfBuffer(const Py_buffer& view);

// The NumPy dtype an entry of `dtype` loads as. NumPy has no bfloat16 or
// float8: those load as raw uint16 / uint8 views of the same bytes.
py::dtype NumpyDType(DType dtype);

}  // namespace ckpt::py_ext
