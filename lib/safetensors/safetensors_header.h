// safetensors/safetensors_header.h: pure parsing, validation and encoding of
// safetensors headers (the grammar is in safetensors_header.cc).
//
// No I/O here, so every validation rule is unit-tested on byte buffers;
// safetensors_io.cc maps files and talks to the Store.
//
// Thread-safety: pure functions.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "ckpt/dtype.h"
#include "ckpt/result.h"

namespace ckpt::internal {

// Bytes of the little-endian u64 that opens every safetensors file.
inline constexpr uint64_t kSafetensorsPrefixSize = 8;
// Largest JSON header accepted, as in the reference implementation; bounds
// the memory a hostile file can make us spend before any data is read.
inline constexpr uint64_t kSafetensorsMaxHeaderSize = 100'000'000;

// One tensor of a safetensors file.
struct SafetensorsEntry {
  std::string name;
  DType dtype = DType::kF32;
  std::vector<int64_t> shape;  // empty for a scalar
  uint64_t begin = 0;          // data_offsets, relative to the data buffer
  uint64_t end = 0;
  uint64_t size() const { return end - begin; }
};

// A parsed, validated header.
struct SafetensorsHeader {
  uint64_t json_length = 0;  // N, the JSON text's length in bytes
  // By ascending data offset; zero-size tensors sharing an offset stay in
  // file order. Together they cover the data buffer exactly.
  std::vector<SafetensorsEntry> entries;
  std::map<std::string, std::string> metadata;  // "__metadata__"
  // Offset of the data buffer in the file: 8 + N.
  uint64_t data_start() const { return kSafetensorsPrefixSize + json_length; }
};

// Parses and validates the header of a safetensors file of `file_size` bytes
// whose first bytes are `bytes` (at least 8 + N of them, more are ignored).
// Returns kInvalidArgument with a one-line message naming the problem (and
// the tensor, where there is one) for malformed input: truncation, oversized header, bad JSON, bad
// fields, unknown dtype, size mismatch, out-of-range/overlapping offsets, holes, duplicate or
// non-UTF-8 names, non-string metadata, a tensor named kSafetensorsHeaderBlob.
Result<SafetensorsHeader> ParseSafetensorsHeader(std::string_view bytes, uint64_t file_size);

// Encodes a canonical header (8-byte prefix and JSON text) for `entries`,
// whose offsets the caller has laid out, with "__metadata__" first when
// `metadata` is not empty. The JSON is padded with spaces so that the data
// buffer starts at a multiple of 8. Errors: kInvalidArgument if a name or
// metadata string is not UTF-8.
Result<std::string> EncodeSafetensorsHeader(const std::vector<SafetensorsEntry>& entries,
                                            const std::map<std::string, std::string>& metadata);

}  // namespace ckpt::internal
