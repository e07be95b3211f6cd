// backend/read_object: a whole small object (a config, a ref, an index-log
// record, a lease) read into a string.
#pragma once

#include <string>

#include "ckpt/backend.h"
#include "ckpt/result.h"

namespace ckpt::internal {

// The bytes of object `name`. Errors: those of Backend::Size and Get
// (kNotFound if it does not exist).
inline Result<std::string> ReadWholeObject(Backend& backend, const std::string& name) {
  CKPT_ASSIGN_OR_RETURN(uint64_t size, backend.Size(name));
  std::string bytes(size, '\0');
  CKPT_RETURN_IF_ERROR(backend.Get(name, 0, bytes.size(), bytes.data()));
  return bytes;
}

}  // namespace ckpt::internal
