// ckpt/checkpoint_reader.h: reading many entries of one checkpoint.
//
// A CheckpointReader pins one checkpoint and one view of the index, so a
// trainer restoring hundreds of tensors (or an export) resolves the ref and
// opens the index once, and every entry comes from the same checkpoint even
// if the ref moves meanwhile. Every byte is checked against its hash, as by
// Store::LoadEntry.
//
// Thread-safety: safe to use from many threads at once. REQUIRES: the Store
// that opened it outlives it. Stability: stable; methods may be added (only
// the library implements this class).
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "ckpt/export.h"
#include "ckpt/manifest.h"
#include "ckpt/options.h"
#include "ckpt/status.h"

namespace ckpt {

// Receives one verified piece of an entry that StreamEntries reads: `length`
// bytes of entries[entry] (an index into the names passed) from byte
// `offset` on. `data` is valid only during the call. A non-OK return stops
// the stream and is returned by StreamEntries.
using PieceSink =
    std::function<Status(size_t entry, uint64_t offset, const void* data, size_t length)>;

// Where ReadEntries puts entry `name`: `size` bytes at `dst`, which must
// equal the entry's byte length.
struct EntryBuffer {
  std::string name;
  void* dst = nullptr;
  size_t size = 0;
};

class CKPT_EXPORT CheckpointReader {
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

  // Reads the box at `offsets` of `shape` of tensor `name` into `dst`; see
  // Store::LoadBox.
  virtual Status ReadBox(const std::string& name, const std::vector<int64_t>& offsets,
                         const std::vector<int64_t>& shape, void* dst, size_t dst_size) = 0;

  // Reads whole entries into the caller's memory in one parallel pass on the
  // store's threads: each chunk is decoded straight into its place and its
  // hash checked there, so no byte is copied after decoding (the fastest way
  // to load a checkpoint into memory the caller owns). Checks every size
  // before reading anything. Stops at the first error; the buffers then hold
  // an unspecified mix of read and unread bytes. options.progress counts the
  // bytes of all entries together. Errors: as ReadEntry.
  virtual Status ReadEntries(const std::vector<EntryBuffer>& buffers,
                             const LoadOptions& options = {}) = 0;

  // Reads the whole entries `names` on the store's threads and passes each
  // piece (a chunk) to `sink` as soon as its hash is checked: from several
  // threads at once and in no fixed order, every byte exactly once. Pieces
  // come roughly in the order of `names`, so a sink writing them to a file
  // writes it almost front to back. Memory: one chunk per thread, whatever
  // the entries' sizes. Stops at the first error, of a read (with the
  // checkpoint and entry) or of `sink`, and returns it; pieces read until
  // then may have reached `sink`. options.progress counts the bytes of all
  // entries together. Errors: as ReadEntry, or the sink's.
  virtual Status StreamEntries(const std::vector<std::string>& names, const PieceSink& sink,
                               const LoadOptions& options = {}) = 0;
};

}  // namespace ckpt
