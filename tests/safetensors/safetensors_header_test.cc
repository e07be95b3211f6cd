// Unit tests of the pure safetensors header parser and encoder, on byte
// buffers built here: every validation rule, and a file using every dtype.
#include "safetensors/safetensors_header.h"

#include <catch2/catch.hpp>
#include <string>
#include <vector>

#include "ckpt/safetensors.h"
#include "ckpt/status.h"

namespace ckpt::internal {
namespace {

std::string Le64(uint64_t v) {
  std::string out(8, '\0');
  for (int i = 0; i < 8; ++i) out[i] = static_cast<char>(v >> (8 * i));
  return out;
}

// A file whose header is `json` (verbatim) followed by `data_length` bytes.
std::string MakeFile(const std::string& json, size_t data_length = 0) {
  return Le64(json.size()) + json + std::string(data_length, '\x5a');
}

Result<SafetensorsHeader> Parse(const std::string& file) {
  return ParseSafetensorsHeader(file, file.size());
}

// Parses `file` and requires kInvalidArgument with a one-line message
// containing `fragment`.
void RequireInvalid(const std::string& file, const std::string& fragment) {
  auto r = Parse(file);
  REQUIRE_FALSE(r.ok());
  CHECK(r.status().code() == Code::kInvalidArgument);
  CHECK_THAT(r.status().message(), Catch::Contains(fragment));
  CHECK(r.status().message().find('\n') == std::string::npos);
}

// One tensor entry's JSON text.
std::string Entry(const std::string& dtype, const std::string& shape, uint64_t begin,
                  uint64_t end) {
  return "{\"dtype\":\"" + dtype + "\",\"shape\":" + shape + ",\"data_offsets\":[" +
         std::to_string(begin) + "," + std::to_string(end) + "]}";
}

TEST_CASE("safetensors header: valid file with every dtype, a scalar and an empty tensor",
          "[unit][safetensors]") {
  struct Spec {
    std::string name, dtype, shape;
    DType expected;
    std::vector<int64_t> dims;
    uint64_t bytes;
  };
  const std::vector<Spec> specs = {
      {"f64", "F64", "[2,3]", DType::kF64, {2, 3}, 48},
      {"f32", "F32", "[4]", DType::kF32, {4}, 16},
      {"f16", "F16", "[3]", DType::kF16, {3}, 6},
      {"bf16", "BF16", "[1,2]", DType::kBF16, {1, 2}, 4},
      {"i64", "I64", "[1]", DType::kI64, {1}, 8},
      {"i32", "I32", "[2]", DType::kI32, {2}, 8},
      {"i16", "I16", "[2]", DType::kI16, {2}, 4},
      {"i8", "I8", "[5]", DType::kI8, {5}, 5},
      {"u8", "U8", "[3]", DType::kU8, {3}, 3},
      {"bool", "BOOL", "[2]", DType::kBool, {2}, 2},
      {"f8e5m2", "F8_E5M2", "[2]", DType::kF8E5M2, {2}, 2},
      {"f8e4m3", "F8_E4M3", "[2]", DType::kF8E4M3, {2}, 2},
      {"u16", "U16", "[2]", DType::kU16, {2}, 4},
      {"u32", "U32", "[2]", DType::kU32, {2}, 8},
      {"u64", "U64", "[2]", DType::kU64, {2}, 16},
      {"scalar", "F32", "[]", DType::kF32, {}, 4},
      {"empty", "F32", "[0,7]", DType::kF32, {0, 7}, 0},
  };
  // Lay the tensors out in list order but write the JSON in reverse, so the
  // parser must sort by offset; metadata sits in the middle.
  std::vector<uint64_t> begins;
  uint64_t offset = 0;
  for (const Spec& s : specs) {
    begins.push_back(offset);
    offset += s.bytes;
  }
  std::string json = "{";
  for (size_t i = specs.size(); i-- > 0;) {
    const Spec& s = specs[i];
    json += "\"" + s.name + "\":" + Entry(s.dtype, s.shape, begins[i], begins[i] + s.bytes) + ",";
    if (i == specs.size() / 2) json += "\"__metadata__\":{\"format\":\"pt\",\"k\":\"v\"},";
  }
  json.back() = '}';
  json += "    ";  // trailing space padding is allowed

  auto r = Parse(MakeFile(json, offset));
  REQUIRE(r.ok());
  const SafetensorsHeader& h = *r;
  CHECK(h.json_length == json.size());
  CHECK(h.data_start() == 8 + json.size());
  CHECK(h.metadata == std::map<std::string, std::string>{{"format", "pt"}, {"k", "v"}});
  REQUIRE(h.entries.size() == specs.size());
  for (size_t i = 0; i < specs.size(); ++i) {
    INFO(specs[i].name);
    CHECK(h.entries[i].name == specs[i].name);
    CHECK(h.entries[i].dtype == specs[i].expected);
    CHECK(h.entries[i].shape == specs[i].dims);
    CHECK(h.entries[i].begin == begins[i]);
    CHECK(h.entries[i].size() == specs[i].bytes);
  }
}

TEST_CASE("safetensors header: empty object and zero-size ties", "[unit][safetensors]") {
  auto empty = Parse(MakeFile("{}"));
  REQUIRE(empty.ok());
  CHECK(empty->entries.empty());
  CHECK(empty->metadata.empty());

  // Zero-size tensors at one offset keep their file order.
  auto r =
      Parse(MakeFile("{\"z2\":" + Entry("U8", "[0]", 0, 0) + ",\"a\":" + Entry("U8", "[2]", 0, 2) +
                         ",\"z1\":" + Entry("I32", "[0]", 0, 0) + "}",
                     2));
  REQUIRE(r.ok());
  REQUIRE(r->entries.size() == 3);
  CHECK(r->entries[0].name == "z2");
  CHECK(r->entries[1].name == "z1");
  CHECK(r->entries[2].name == "a");
}

TEST_CASE("safetensors header: truncation and header length", "[unit][safetensors]") {
  for (size_t n = 0; n < 8; ++n) {
    RequireInvalid(std::string(n, '\0'), "truncated");
  }
  // Length prefix larger than the rest of the file.
  RequireInvalid(Le64(10) + "{}", "past the end of the file");
  RequireInvalid(Le64(~0ull), "exceeds the limit");
  // Over the limit even though the (claimed) file is large enough.
  const std::string prefix = Le64(kSafetensorsMaxHeaderSize + 1);
  auto r = ParseSafetensorsHeader(prefix, 2 * kSafetensorsMaxHeaderSize);
  REQUIRE_FALSE(r.ok());
  CHECK(r.status().code() == Code::kInvalidArgument);
  CHECK_THAT(r.status().message(), Catch::Contains("exceeds the limit of 100000000 bytes"));
  // Exactly at the limit is accepted as far as the length goes.
  auto at = ParseSafetensorsHeader(Le64(kSafetensorsMaxHeaderSize), 2 * kSafetensorsMaxHeaderSize);
  REQUIRE_FALSE(at.ok());
  CHECK_THAT(at.status().message(), !Catch::Contains("limit"));
}

TEST_CASE("safetensors header: invalid JSON and non-object header", "[unit][safetensors]") {
  RequireInvalid(MakeFile(""), "not valid JSON");
  RequireInvalid(MakeFile("{\"a\":"), "not valid JSON");
  RequireInvalid(MakeFile("{} x"), "not valid JSON");
  RequireInvalid(MakeFile("{\"a\":1,}"), "not valid JSON");
  RequireInvalid(MakeFile("{/* c */}"), "not valid JSON");
  RequireInvalid(MakeFile("[]"), "not a JSON object");
  RequireInvalid(MakeFile("\"x\""), "not a JSON object");
  RequireInvalid(MakeFile("42"), "not a JSON object");
  RequireInvalid(MakeFile("null"), "not a JSON object");
}

TEST_CASE("safetensors header: entry fields", "[unit][safetensors]") {
  RequireInvalid(MakeFile("{\"t\":3}"), "tensor \"t\": entry is not an object");
  RequireInvalid(MakeFile("{\"t\":[]}"), "tensor \"t\": entry is not an object");
  RequireInvalid(MakeFile("{\"t\":{\"shape\":[1],\"data_offsets\":[0,1]}}", 1),
                 "tensor \"t\": missing field \"dtype\"");
  RequireInvalid(MakeFile("{\"t\":{\"dtype\":\"U8\",\"data_offsets\":[0,1]}}", 1),
                 "tensor \"t\": missing field \"shape\"");
  RequireInvalid(MakeFile("{\"t\":{\"dtype\":\"U8\",\"shape\":[1]}}", 1),
                 "tensor \"t\": missing field \"data_offsets\"");
  RequireInvalid(MakeFile("{\"t\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1],"
                          "\"extra\":1}}",
                          1),
                 "tensor \"t\": unknown field \"extra\"");
  RequireInvalid(MakeFile("{\"t\":{\"dtype\":8,\"shape\":[1],\"data_offsets\":[0,1]}}", 1),
                 "tensor \"t\": \"dtype\" is not a string");
  RequireInvalid(MakeFile("{\"t\":{\"dtype\":\"U8\",\"shape\":\"1\",\"data_offsets\":[0,1]}}", 1),
                 "tensor \"t\": \"shape\" is not an array");
  for (const char* offsets :
       {"[0]", "[0,1,1]", "\"0,1\"", "[\"0\",1]", "[-1,1]", "[0,1.0]", "{\"a\":0}", "null"}) {
    INFO(offsets);
    RequireInvalid(
        MakeFile(std::string("{\"t\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":") + offsets +
                     "}}",
                 1),
        "tensor \"t\": \"data_offsets\" is not [begin, end]");
  }
}

TEST_CASE("safetensors header: dtype and shape", "[unit][safetensors]") {
  RequireInvalid(MakeFile("{\"t\":" + Entry("F128", "[1]", 0, 16) + "}", 16),
                 "tensor \"t\": unknown dtype \"F128\"");
  RequireInvalid(MakeFile("{\"t\":" + Entry("f32", "[1]", 0, 4) + "}", 4), "unknown dtype \"f32\"");
  RequireInvalid(MakeFile("{\"t\":" + Entry("U8", "[-1]", 0, 0) + "}"),
                 "tensor \"t\": negative shape dimension -1");
  RequireInvalid(MakeFile("{\"t\":" + Entry("U8", "[2.5]", 0, 2) + "}", 2),
                 "tensor \"t\": shape dimension 2.5 is not an integer");
  RequireInvalid(MakeFile("{\"t\":" + Entry("U8", "[2.0]", 0, 2) + "}", 2), "not an integer");
  RequireInvalid(MakeFile("{\"t\":" + Entry("U8", "[\"2\"]", 0, 2) + "}", 2), "not an integer");
  RequireInvalid(MakeFile("{\"t\":" + Entry("U8", "[[2]]", 0, 2) + "}", 2), "not an integer");
  RequireInvalid(MakeFile("{\"t\":" + Entry("U8", "[9223372036854775808]", 0, 0) + "}"),
                 "too large");
  RequireInvalid(MakeFile("{\"t\":" + Entry("F32", "[4611686018427387904,4]", 0, 0) + "}"),
                 "tensor \"t\": shape [4611686018427387904,4] is too large");
  RequireInvalid(
      MakeFile("{\"t\":" + Entry("F32", "[2,3]", 0, 20) + "}", 20),
      "tensor \"t\": shape [2,3] of F32 needs 24 bytes but data_offsets [0, 20] span 20");
  RequireInvalid(MakeFile("{\"t\":" + Entry("F32", "[]", 0, 0) + "}"), "needs 4 bytes");
}

TEST_CASE("safetensors header: data offsets", "[unit][safetensors]") {
  RequireInvalid(MakeFile("{\"t\":" + Entry("U8", "[0]", 3, 2) + "}", 3),
                 "tensor \"t\": data_offsets [3, 2] has begin > end");
  RequireInvalid(MakeFile("{\"t\":" + Entry("U8", "[4]", 0, 4) + "}", 3),
                 "tensor \"t\": data_offsets [0, 4] past the end of the data buffer (3 bytes)");
  RequireInvalid(
      MakeFile("{\"a\":" + Entry("U8", "[4]", 0, 4) + ",\"b\":" + Entry("U8", "[4]", 2, 6) + "}",
               6),
      "tensors \"a\" and \"b\" overlap");
  RequireInvalid(
      MakeFile("{\"a\":" + Entry("U8", "[4]", 0, 4) + ",\"b\":" + Entry("U8", "[4]", 0, 4) + "}",
               4),
      "overlap");
  // A zero-size tensor inside another's range is an overlap too.
  RequireInvalid(
      MakeFile("{\"a\":" + Entry("U8", "[4]", 0, 4) + ",\"z\":" + Entry("U8", "[0]", 2, 2) + "}",
               4),
      "overlap");
  // Holes: at the start, in the middle, at the end, and data with no tensors.
  RequireInvalid(MakeFile("{\"a\":" + Entry("U8", "[2]", 2, 4) + "}", 4),
                 "hole in the data buffer at bytes [0, 2) before tensor \"a\"");
  RequireInvalid(
      MakeFile("{\"a\":" + Entry("U8", "[2]", 0, 2) + ",\"b\":" + Entry("U8", "[2]", 3, 5) + "}",
               5),
      "hole in the data buffer at bytes [2, 3)");
  RequireInvalid(MakeFile("{\"a\":" + Entry("U8", "[2]", 0, 2) + "}", 3),
                 "hole in the data buffer: bytes [2, 3) are not covered");
  RequireInvalid(MakeFile("{}", 1), "hole");
}

TEST_CASE("safetensors header: duplicate keys", "[unit][safetensors]") {
  RequireInvalid(
      MakeFile("{\"a\":" + Entry("U8", "[1]", 0, 1) + ",\"a\":" + Entry("U8", "[1]", 1, 2) + "}",
               2),
      "duplicate tensor name \"a\"");
  RequireInvalid(MakeFile("{\"a\":{\"dtype\":\"U8\",\"dtype\":\"I8\",\"shape\":[1],"
                          "\"data_offsets\":[0,1]}}",
                          1),
                 "\"a\": duplicate key \"dtype\"");
  RequireInvalid(MakeFile("{\"__metadata__\":{\"k\":\"1\",\"k\":\"2\"}}"),
                 "\"__metadata__\": duplicate key \"k\"");
  RequireInvalid(MakeFile("{\"__metadata__\":{},\"__metadata__\":{}}"),
                 "duplicate key \"__metadata__\"");
}

TEST_CASE("safetensors header: names", "[unit][safetensors]") {
  // Raw invalid UTF-8: a stray continuation byte, 0xFF, an overlong NUL, a
  // UTF-16 surrogate, a code point past U+10FFFF, a cut-off sequence.
  for (const std::string bad :
       {"\x80", "\xff", "\xc0\x80", "\xed\xa0\x80", "\xf4\x90\x80\x80", "w\xc3"}) {
    RequireInvalid(MakeFile("{\"" + bad + "\":" + Entry("U8", "[1]", 0, 1) + "}", 1), "not UTF-8");
  }
  auto ok =
      Parse(MakeFile("{\"w\xc3\xabight\xf0\x9f\x98\x80\":" + Entry("U8", "[1]", 0, 1) + "}", 1));
  REQUIRE(ok.ok());
  CHECK(ok->entries[0].name == "w\xc3\xabight\xf0\x9f\x98\x80");

  RequireInvalid(MakeFile("{\"\":" + Entry("U8", "[1]", 0, 1) + "}", 1), "empty tensor name");
  RequireInvalid(
      MakeFile("{\"" + std::string(kSafetensorsHeaderBlob) + "\":" + Entry("U8", "[1]", 0, 1) + "}",
               1),
      "tensor name \"safetensors.header\" is reserved");
}

TEST_CASE("safetensors header: metadata", "[unit][safetensors]") {
  RequireInvalid(MakeFile("{\"__metadata__\":{\"epoch\":3}}"),
                 "\"__metadata__\" value of \"epoch\" is not a string");
  RequireInvalid(MakeFile("{\"__metadata__\":{\"x\":null}}"), "value of \"x\" is not a string");
  RequireInvalid(MakeFile("{\"__metadata__\":[]}"), "\"__metadata__\" is not an object");
  RequireInvalid(MakeFile("{\"__metadata__\":\"s\"}"), "\"__metadata__\" is not an object");
  auto r = Parse(MakeFile("{\"__metadata__\":{}}"));
  REQUIRE(r.ok());
  CHECK(r->metadata.empty());
}

TEST_CASE("safetensors header: encode is canonical and parses back", "[unit][safetensors]") {
  std::vector<SafetensorsEntry> entries = {
      {"b", DType::kBF16, {2, 3}, 0, 12},
      {"a", DType::kF64, {}, 12, 20},
      {"z", DType::kU8, {0}, 20, 20},
      {"c", DType::kBool, {3}, 20, 23},
  };
  const std::map<std::string, std::string> metadata = {{"format", "pt"}, {"step", "12"}};
  auto encoded = EncodeSafetensorsHeader(entries, metadata);
  REQUIRE(encoded.ok());
  CHECK(encoded->size() % 8 == 0);
  CHECK(encoded->substr(8, 15) == "{\"__metadata__\"");
  const std::string file = *encoded + std::string(23, '\0');
  auto parsed = Parse(file);
  REQUIRE(parsed.ok());
  CHECK(parsed->data_start() == encoded->size());
  CHECK(parsed->metadata == metadata);
  REQUIRE(parsed->entries.size() == entries.size());
  for (size_t i = 0; i < entries.size(); ++i) {
    CHECK(parsed->entries[i].name == entries[i].name);
    CHECK(parsed->entries[i].dtype == entries[i].dtype);
    CHECK(parsed->entries[i].shape == entries[i].shape);
    CHECK(parsed->entries[i].begin == entries[i].begin);
    CHECK(parsed->entries[i].end == entries[i].end);
  }

  // No metadata: no "__metadata__" key at all.
  auto bare = EncodeSafetensorsHeader({{"t", DType::kU8, {1}, 0, 1}}, {});
  REQUIRE(bare.ok());
  CHECK(bare->find("__metadata__") == std::string::npos);
  CHECK(bare->size() % 8 == 0);

  CHECK(EncodeSafetensorsHeader({{"t", DType::kU8, {}, 0, 1}, {"t", DType::kU8, {}, 1, 2}}, {})
            .status()
            .code() == Code::kInvalidArgument);
  CHECK(EncodeSafetensorsHeader({{"__metadata__", DType::kU8, {}, 0, 1}}, {}).status().code() ==
        Code::kInvalidArgument);
  auto bad = EncodeSafetensorsHeader({{"\xff", DType::kU8, {}, 0, 1}}, {});
  REQUIRE_FALSE(bad.ok());
  CHECK_THAT(bad.status().message(), Catch::Contains("not UTF-8"));
}

}  // namespace
}  // namespace ckpt::internal
