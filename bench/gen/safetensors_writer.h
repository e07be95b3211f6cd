// bench/gen/safetensors_writer.h: serializes tensors as a safetensors file.
//
// Layout: 8-byte little-endian header length N, then N bytes of JSON
//   {"__metadata__":{...},"NAME":{"dtype":"F32","shape":[..],"data_offsets":[b,e]},...}
// padded with spaces to a multiple of 8, then the tensors' bytes back to back.
// Offsets are relative to the first data byte. Tensors are written in the
// order given (the scenarios sort them by name, as the Python library does).
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace ckpt_bench {

struct OutTensor {
  std::string name;
  std::string dtype;  // "F32", "BF16", "I64"
  std::vector<int64_t> shape;
  const void* data = nullptr;
  size_t size = 0;  // bytes
};

// Returns the whole file: header and data. `data_offset` receives the offset
// of the first data byte.
std::vector<uint8_t> SerializeSafetensors(const std::map<std::string, std::string>& metadata,
                                          const std::vector<OutTensor>& tensors,
                                          size_t* data_offset);

// Writes `bytes` to `path` (truncating). Returns false on any I/O error.
bool WriteFile(const std::string& path, const std::vector<uint8_t>& bytes);

}  // namespace ckpt_bench
