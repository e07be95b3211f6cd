// ckpt/checkpoint_reader.h: reading many entries of one checkpoint.
//
// A CheckpointReader pins one checkpoint and one view of the index, so a
// trainer restoring hundreds of tensors (or an export) resolves the ref and
// opens the index once, and every entry comes from the same checkpoint even
// if the ref moves meanwhile. Every byte is checked against its hash, as by
// Store::LoadEntry.
//
// Thread-safety: safe to use from many threads at once. REQUIRES: the Store
// that opened it outlives it. Stability: stable.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "ckpt/manifest.h"
#include "ckpt/options.h"
#include "ckpt/status.h"

namespace ckpt {

class CheckpointReader {
 public:
  virtual ~CheckpointReader() = default;

  // The checkpoint's info and entry list.
  virtual const CheckpointDetail& detail() const = 0;

  // Reads tensor or blob `name` into `dst` of `dst_size` bytes (which must
  // equal its byte length). Errors: kNotFound, kInvalidArgument, kCorruption.
  virtual Status ReadEntry(const std::string& name, void* dst, size_t dst_size,
                           const LoadOptions& options = {}) = 0;

  // Reads bytes [offset, offset+length) of entry `name`, touching only the
  // chunks that overlap. Errors: as ReadEntry.
  virtual Status ReadRange(const std::string& name, uint64_t offset, uint64_t length,
                           void* dst) = 0;
};

}  // namespace ckpt
