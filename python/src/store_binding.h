// The extension's Store: the public ckpt::Store, with the GIL released
// around every call that does I/O.
#pragma once

#include <pybind11/pybind11.h>

namespace ckpt::py_ext {

void BindStore(pybind11::module_& m);

}  // namespace ckpt::py_ext
