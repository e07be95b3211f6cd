// ckpt._ckpt: the compiled half of the Python package. Its API is private;
// the package's Python modules (ckpt/__init__.py) are the public one.
#include <pybind11/pybind11.h>

#include "ckpt/ckpt.h"
#include "convert.h"
#include "store_binding.h"

namespace py = pybind11;

PYBIND11_MODULE(_ckpt, m) {
  m.doc() = "Private bindings of libckpt; use the ckpt package.";
  ckpt::py_ext::RegisterStatusTranslator();
  ckpt::py_ext::BindStore(m);
  m.def("parse_duration_seconds", [](const std::string& text) {
    ckpt::Result<int64_t> r = ckpt::ParseDurationSeconds(text);
    if (!r.ok()) throw py::value_error(r.status().message());
    return *r;
  });
  m.def("dtype_size", [](const std::string& name) {
    auto d = ckpt::DTypeFromName(name);
    if (!d) throw py::value_error("unknown dtype '" + name + "'");
    return ckpt::DTypeSize(*d);
  });
}
