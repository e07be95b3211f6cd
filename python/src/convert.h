// Conversions between the public C++ types and plain Python values. The
// package's Python layer turns these dicts into its typed dataclasses.
#pragma once

#include <pybind11/pybind11.h>

#include <exception>
#include <string>

#include "ckpt/ckpt.h"

namespace ckpt::py_ext {

namespace py = pybind11;

// A non-OK Status on its way to Python, where the exception translator
// raises the ckpt.Error subclass of its code.
class StatusError : public std::exception {
 public:
  explicit StatusError(Status status) : status_(std::move(status)) {}
  const char* what() const noexcept override { return status_.message().c_str(); }
  const Status& status() const { return status_; }

 private:
  Status status_;
};

inline void Check(const Status& s) {
  if (!s.ok()) throw StatusError(s);
}
template <typename T>
T Take(Result<T>&& r) {
  if (!r.ok()) throw StatusError(r.status());
  return std::move(r).value();
}

// Raises the Python exception for a StatusError (ckpt._errors picks the class).
void RegisterStatusTranslator();

py::dict ToDict(const CheckpointInfo& info);
py::dict ToDict(const EntryInfo& entry);
py::dict ToDict(const RunInfo& run);
py::dict ToDict(const StoreStats& stats);
py::dict ToDict(const StoreConfig& config);
py::dict ToDict(const VerifyReport& report);
py::dict ToDict(const GcReport& report);
py::dict ToDict(const RetentionPolicy& policy);
// {"from", "to", "tensors": [per-tensor dict], "added", "removed", "retyped",
// "bytes_read"}; an integer tensor's max_abs_diff is its exact int.
py::dict ToDict(const ValueDiff& diff);

// Reads a policy from the keyword names of Store.set_policy; keep_within is
// seconds here (the Python layer parses durations). Raises ValueError /
// TypeError on unknown keys or bad values.
RetentionPolicy PolicyFromDict(const py::dict& d);

}  // namespace ckpt::py_ext
