// safetensors/safetensors_header.cc: parses, validates and encodes
// safetensors headers. Owns no I/O; used by safetensors_io.cc.
//
// File grammar (https://github.com/huggingface/safetensors); integers are
// little-endian:
//
//   file    := N:u64  header:u8[N]  data:u8[*]
//   header  := UTF-8 JSON object, optionally padded at its end with spaces:
//              { NAME: tensor, ..., "__metadata__": { STRING: STRING, ... } }
//              ("__metadata__" is optional and may appear at any position)
//   tensor  := { "dtype": DTYPE, "shape": [DIM, ...], "data_offsets": [BEGIN, END] }
//   DTYPE   := "BOOL" | "U8" | "I8" | "F8_E5M2" | "F8_E4M3" | "I16" | "U16"
//            | "F16" | "BF16" | "I32" | "U32" | "F32" | "F64" | "I64" | "U64"
//
// BEGIN and END are byte offsets into `data`, which starts at file offset
// 8 + N; a tensor's bytes are data[BEGIN, END), row-major little-endian, and
// END - BEGIN = product(shape) * size(DTYPE) (shape [] is a one-element
// scalar). The tensors' ranges cover `data` exactly: no overlap, no hole, no
// trailing byte. Names are unique.
//
// Beyond the spec we reject, so that import never stores what export could
// not reproduce: N > 100,000,000; keys other than the three above inside a
// tensor; an empty name; a tensor named kSafetensorsHeaderBlob.
#include "safetensors/safetensors_header.h"

#include <algorithm>
#include <limits>
#include <nlohmann/json.hpp>
#include <set>
#include <utility>

#include "ckpt/safetensors.h"
#include "ckpt/status.h"
#include "util/bytes.h"

namespace ckpt::internal {
namespace {

// ordered_json keeps file order, which breaks ties between zero-size
// tensors at one offset deterministically.
using Json = nlohmann::ordered_json;

constexpr const char* kMetadataKey = "__metadata__";

Status Invalid(std::string message) { return Status::InvalidArgument(std::move(message)); }

std::string Quoted(std::string_view s) { return "\"" + std::string(s) + "\""; }

// Returns the index of the first byte that does not belong to a well-formed
// UTF-8 sequence (RFC 3629: no overlongs, surrogates or code points past
// U+10FFFF), or npos. We check the whole JSON text up front because the JSON
// library's own check reports only a generic parse error.
size_t FindInvalidUtf8(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    const auto b0 = static_cast<uint8_t>(s[i]);
    if (b0 < 0x80) {
      ++i;
      continue;
    }
    size_t len;
    uint8_t lo = 0x80, hi = 0xBF;  // allowed range of the second byte
    if (b0 >= 0xC2 && b0 <= 0xDF) {
      len = 2;
    } else if (b0 >= 0xE0 && b0 <= 0xEF) {
      len = 3;
      if (b0 == 0xE0) lo = 0xA0;
      if (b0 == 0xED) hi = 0x9F;
    } else if (b0 >= 0xF0 && b0 <= 0xF4) {
      len = 4;
      if (b0 == 0xF0) lo = 0x90;
      if (b0 == 0xF4) hi = 0x8F;
    } else {
      return i;
    }
    if (s.size() - i < len) return i;
    for (size_t k = 1; k < len; ++k) {
      const auto b = static_cast<uint8_t>(s[i + k]);
      if (k == 1 ? (b < lo || b > hi) : (b < 0x80 || b > 0xBF)) return i;
    }
    i += len;
  }
  return std::string_view::npos;
}

// Parses `text`, noting the first duplicate key of any object: nlohmann
// keeps one of two equal keys silently, so only its parser callback sees them.
Result<Json> ParseJsonRejectingDuplicates(std::string_view text) {
  std::vector<std::set<std::string>> open_objects;
  std::string tensor;  // the top-level key whose value is being parsed
  std::string duplicate_error;
  auto callback = [&](int, Json::parse_event_t event, Json& parsed) {
    switch (event) {
      case Json::parse_event_t::object_start:
        open_objects.emplace_back();
        break;
      case Json::parse_event_t::object_end:
        if (!open_objects.empty()) open_objects.pop_back();
        break;
      case Json::parse_event_t::key: {
        const auto& key = parsed.get_ref<const std::string&>();
        const bool top = open_objects.size() == 1;
        if (top) tensor = key;
        if (!open_objects.empty() && !open_objects.back().insert(key).second &&
            duplicate_error.empty()) {
          duplicate_error = !top ? Quoted(tensor) + ": duplicate key " + Quoted(key)
                            : key == kMetadataKey ? "duplicate key " + Quoted(key)
                                                  : "duplicate tensor name " + Quoted(key);
        }
        break;
      }
      default:
        break;
    }
    return true;
  };
  try {
    Json root = Json::parse(text.data(), text.data() + text.size(), callback);
    if (!duplicate_error.empty()) return Invalid(duplicate_error);
    return root;
  } catch (const Json::exception& e) {
    return Invalid(std::string("header is not valid JSON: ") + e.what());
  }
}

// Reads a non-negative JSON integer; nullopt for anything else.
std::optional<uint64_t> AsUnsigned(const Json& v) {
  if (v.is_number_unsigned()) return v.get<uint64_t>();
  return std::nullopt;
}

Status ParseShape(const Json& value, std::vector<int64_t>* shape) {
  if (!value.is_array()) return Invalid("\"shape\" is not an array");
  for (const Json& dim : value) {
    if (dim.is_number_integer() && !dim.is_number_unsigned()) {
      return Invalid("negative shape dimension " + dim.dump());
    }
    if (!dim.is_number_unsigned())
      return Invalid("shape dimension " + dim.dump() + " is not an integer");
    const uint64_t d = dim.get<uint64_t>();
    if (d > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
      return Invalid("shape dimension " + std::to_string(d) + " is too large");
    }
    shape->push_back(static_cast<int64_t>(d));
  }
  return Status::OK();
}

// Parses one tensor's value into `e`; the data buffer holds `data_length` bytes.
Status ParseEntryFields(const Json& value, uint64_t data_length, SafetensorsEntry* e) {
  if (!value.is_object()) return Invalid("entry is not an object");
  for (const auto& item : value.items()) {
    const std::string& key = item.key();
    if (key != "dtype" && key != "shape" && key != "data_offsets") {
      return Invalid("unknown field " + Quoted(key));
    }
  }
  for (const char* key : {"dtype", "shape", "data_offsets"}) {
    if (!value.contains(key)) return Invalid("missing field " + Quoted(key));
  }

  const Json& dtype = value["dtype"];
  if (!dtype.is_string()) return Invalid("\"dtype\" is not a string");
  const auto parsed = DTypeFromName(dtype.get_ref<const std::string&>());
  if (!parsed) return Invalid("unknown dtype " + dtype.dump());
  e->dtype = *parsed;

  CKPT_RETURN_IF_ERROR(ParseShape(value["shape"], &e->shape));

  const Json& offsets = value["data_offsets"];
  if (!offsets.is_array() || offsets.size() != 2 || !AsUnsigned(offsets[0]) ||
      !AsUnsigned(offsets[1])) {
    return Invalid("\"data_offsets\" is not [begin, end] of non-negative integers");
  }
  e->begin = *AsUnsigned(offsets[0]);
  e->end = *AsUnsigned(offsets[1]);
  const std::string range = "[" + std::to_string(e->begin) + ", " + std::to_string(e->end) + "]";
  if (e->begin > e->end) return Invalid("data_offsets " + range + " has begin > end");
  if (e->end > data_length) {
    return Invalid("data_offsets " + range + " past the end of the data buffer (" +
                   std::to_string(data_length) + " bytes)");
  }

  uint64_t bytes = DTypeSize(e->dtype);
  for (int64_t d : e->shape) {
    if (__builtin_mul_overflow(bytes, static_cast<uint64_t>(d), &bytes)) {
      return Invalid("shape " + value["shape"].dump() + " is too large");
    }
  }
  if (bytes != e->size()) {
    return Invalid("shape " + value["shape"].dump() + " of " + std::string(DTypeName(e->dtype)) +
                   " needs " + std::to_string(bytes) + " bytes but data_offsets " + range +
                   " span " + std::to_string(e->size()));
  }
  return Status::OK();
}

Status ParseMetadata(const Json& value, std::map<std::string, std::string>* metadata) {
  if (!value.is_object()) return Invalid("\"__metadata__\" is not an object");
  for (const auto& item : value.items()) {
    if (!item.value().is_string()) {
      return Invalid("\"__metadata__\" value of " + Quoted(item.key()) + " is not a string");
    }
    metadata->emplace(item.key(), item.value().get<std::string>());
  }
  return Status::OK();
}

// Checks that the sorted entries tile [0, data_length) exactly.
Status CheckCoverage(const std::vector<SafetensorsEntry>& entries, uint64_t data_length) {
  uint64_t pos = 0;
  const SafetensorsEntry* prev = nullptr;
  for (const SafetensorsEntry& e : entries) {
    if (e.begin < pos) {
      return Invalid("tensors " + Quoted(prev->name) + " and " + Quoted(e.name) +
                     " overlap in the data buffer");
    }
    if (e.begin > pos) {
      return Invalid("hole in the data buffer at bytes [" + std::to_string(pos) + ", " +
                     std::to_string(e.begin) + ") before tensor " + Quoted(e.name));
    }
    pos = e.end;
    prev = &e;
  }
  if (pos != data_length) {
    return Invalid("hole in the data buffer: bytes [" + std::to_string(pos) + ", " +
                   std::to_string(data_length) + ") are not covered by any tensor");
  }
  return Status::OK();
}

}  // namespace

Result<SafetensorsHeader> ParseSafetensorsHeader(std::string_view bytes, uint64_t file_size) {
  if (file_size < kSafetensorsPrefixSize || bytes.size() < kSafetensorsPrefixSize) {
    return Invalid("truncated: file has " + std::to_string(file_size) +
                   " bytes, fewer than the 8-byte header length");
  }
  SafetensorsHeader header;
  header.json_length = DecodeFixed64(bytes.data());
  const uint64_t n = header.json_length;
  if (n > kSafetensorsMaxHeaderSize) {
    return Invalid("header length " + std::to_string(n) + " exceeds the limit of " +
                   std::to_string(kSafetensorsMaxHeaderSize) + " bytes");
  }
  if (n > file_size - kSafetensorsPrefixSize) {
    return Invalid("header length " + std::to_string(n) + " runs past the end of the file (" +
                   std::to_string(file_size) + " bytes)");
  }
  if (n > bytes.size() - kSafetensorsPrefixSize) {
    return Invalid("truncated: header of " + std::to_string(n) + " bytes but only " +
                   std::to_string(bytes.size() - kSafetensorsPrefixSize) + " given");
  }
  const std::string_view text = bytes.substr(kSafetensorsPrefixSize, n);
  if (const size_t bad = FindInvalidUtf8(text); bad != std::string_view::npos) {
    return Invalid("header is not UTF-8: invalid byte at file offset " +
                   std::to_string(kSafetensorsPrefixSize + bad));
  }
  CKPT_ASSIGN_OR_RETURN(Json root, ParseJsonRejectingDuplicates(text));
  if (!root.is_object()) return Invalid("header is not a JSON object");

  const uint64_t data_length = file_size - header.data_start();
  for (const auto& item : root.items()) {
    const std::string& name = item.key();
    if (name == kMetadataKey) {
      CKPT_RETURN_IF_ERROR(ParseMetadata(item.value(), &header.metadata));
      continue;
    }
    if (name.empty()) return Invalid("empty tensor name");
    if (name == kSafetensorsHeaderBlob) {
      return Invalid("tensor name " + Quoted(name) + " is reserved for the header blob");
    }
    SafetensorsEntry e;
    e.name = name;
    Status s = ParseEntryFields(item.value(), data_length, &e);
    if (!s.ok()) return s.WithContext("tensor " + Quoted(name));
    header.entries.push_back(std::move(e));
  }
  std::stable_sort(header.entries.begin(), header.entries.end(),
                   [](const SafetensorsEntry& a, const SafetensorsEntry& b) {
                     return std::pair(a.begin, a.end) < std::pair(b.begin, b.end);
                   });
  CKPT_RETURN_IF_ERROR(CheckCoverage(header.entries, data_length));
  return header;
}

Result<std::string> EncodeSafetensorsHeader(const std::vector<SafetensorsEntry>& entries,
                                            const std::map<std::string, std::string>& metadata) {
  Json root = Json::object();
  // Metadata first, as the reference writer puts it.
  if (!metadata.empty()) {
    Json m = Json::object();
    for (const auto& [key, value] : metadata) m[key] = value;
    root[kMetadataKey] = std::move(m);
  }
  for (const SafetensorsEntry& e : entries) {
    if (e.name.empty() || e.name == kMetadataKey || root.contains(e.name)) {
      return Invalid("tensor name " + Quoted(e.name) + " is empty, duplicate or reserved");
    }
    root[e.name] = Json{{"dtype", std::string(DTypeName(e.dtype))},
                        {"shape", e.shape},
                        {"data_offsets", Json::array({e.begin, e.end})}};
  }
  std::string text;
  try {
    text = root.dump();
  } catch (const Json::exception&) {
    return Invalid("a tensor name or metadata string is not UTF-8");
  }
  // Pad so that the data buffer, and thus every tensor whose offset is a
  // multiple of 8, is 8-byte aligned in the file; readers may mmap it.
  const size_t unaligned = (kSafetensorsPrefixSize + text.size()) % 8;
  if (unaligned != 0) text.append(8 - unaligned, ' ');
  if (text.size() > kSafetensorsMaxHeaderSize) {
    return Invalid("header of " + std::to_string(text.size()) + " bytes exceeds the limit");
  }
  std::string out;
  out.reserve(kSafetensorsPrefixSize + text.size());
  PutFixed64(&out, text.size());
  out.append(text);
  return out;
}

}  // namespace ckpt::internal
