// Test helper: writes small safetensors files for the CLI tests to import.
#pragma once

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "test_util.h"

namespace ckpt::test {

// One tensor of a safetensors file written by a test.
struct StTensor {
  std::string name;
  std::string dtype;
  std::vector<int64_t> shape;
  std::vector<uint8_t> data;
};

// Writes a safetensors file: little-endian u64 header length, JSON header
// padded with spaces to a multiple of 8, then the tensors' bytes in order.
inline void WriteSafetensors(const std::string& path, const std::vector<StTensor>& tensors,
                             const std::map<std::string, std::string>& metadata = {}) {
  nlohmann::json header = nlohmann::json::object();
  if (!metadata.empty()) header["__metadata__"] = metadata;
  uint64_t offset = 0;
  for (const auto& t : tensors) {
    header[t.name] = {
        {"dtype", t.dtype}, {"shape", t.shape}, {"data_offsets", {offset, offset + t.data.size()}}};
    offset += t.data.size();
  }
  std::string text = header.dump();
  while ((8 + text.size()) % 8 != 0) text += ' ';
  std::vector<uint8_t> bytes(8);
  uint64_t n = text.size();
  for (int i = 0; i < 8; ++i) bytes[i] = static_cast<uint8_t>(n >> (8 * i));
  bytes.insert(bytes.end(), text.begin(), text.end());
  for (const auto& t : tensors) bytes.insert(bytes.end(), t.data.begin(), t.data.end());
  WriteFileBytes(path, bytes.data(), bytes.size());
}

}  // namespace ckpt::test
