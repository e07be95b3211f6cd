#include "safetensors_writer.h"

#include <cstdio>
#include <cstring>

namespace ckpt_bench {
namespace {

// Names and metadata here are plain ASCII without quotes or backslashes, but
// escape anyway so the JSON is valid whatever a scenario passes.
std::string JsonString(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", c);
      out += buf;
    } else {
      out += c;
    }
  }
  return out + "\"";
}

}  // namespace

std::vector<uint8_t> SerializeSafetensors(const std::map<std::string, std::string>& metadata,
                                          const std::vector<OutTensor>& tensors,
                                          size_t* data_offset) {
  std::string json = "{";
  if (!metadata.empty()) {
    json += "\"__metadata__\":{";
    bool first = true;
    for (const auto& [k, v] : metadata) {
      if (!first) json += ',';
      first = false;
      json += JsonString(k) + ":" + JsonString(v);
    }
    json += "}";
  }
  uint64_t offset = 0;
  for (size_t i = 0; i < tensors.size(); ++i) {
    const OutTensor& t = tensors[i];
    if (i > 0 || !metadata.empty()) json += ',';
    json += JsonString(t.name) + ":{\"dtype\":" + JsonString(t.dtype) + ",\"shape\":[";
    for (size_t d = 0; d < t.shape.size(); ++d) {
      if (d) json += ',';
      json += std::to_string(t.shape[d]);
    }
    json += "],\"data_offsets\":[" + std::to_string(offset) + "," +
            std::to_string(offset + t.size) + "]}";
    offset += t.size;
  }
  json += "}";
  while (json.size() % 8 != 0) json += ' ';

  const uint64_t header_len = json.size();
  std::vector<uint8_t> out(8 + header_len + offset);
  for (int i = 0; i < 8; ++i) out[i] = static_cast<uint8_t>(header_len >> (8 * i));
  std::memcpy(out.data() + 8, json.data(), header_len);
  uint8_t* p = out.data() + 8 + header_len;
  for (const OutTensor& t : tensors) {
    if (t.size) std::memcpy(p, t.data, t.size);
    p += t.size;
  }
  *data_offset = 8 + header_len;
  return out;
}

bool WriteFile(const std::string& path, const std::vector<uint8_t>& bytes) {
  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (!f) return false;
  const bool ok = std::fwrite(bytes.data(), 1, bytes.size(), f) == bytes.size();
  return (std::fclose(f) == 0) && ok;
}

}  // namespace ckpt_bench
