// Integration tests of ImportSafetensors / ExportSafetensors against a real
// store: byte-identical roundtrip, malformed files storing nothing, and
// export of checkpoints saved through the API.
#include <unistd.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "ckpt/ckpt.h"
#include "safetensors/safetensors_header.h"
#include "test_util.h"

namespace ckpt {
namespace {

using test::ReadFileBytes;
using test::TempDir;
using test::WriteFileBytes;

std::unique_ptr<Store> OpenStore(const TempDir& dir) {
  StoreOptions options;
  options.create_if_missing = true;
  options.chunk_size = 4096;  // small, so tensors span several chunks
  auto store = Store::Open(options, dir.Sub("store"));
  REQUIRE(store.ok());
  return std::move(store).value();
}

std::string Le64(uint64_t v) {
  std::string out(8, '\0');
  for (int i = 0; i < 8; ++i) out[i] = static_cast<char>(v >> (8 * i));
  return out;
}

// A file with header `json` and data buffer `data`.
std::string File(const std::string& json, const std::string& data = "") {
  return Le64(json.size()) + json + data;
}

std::string WriteFile(const TempDir& dir, const std::string& name, const std::string& bytes) {
  const std::string path = dir.Sub(name);
  WriteFileBytes(path, bytes.data(), bytes.size());
  return path;
}

std::string ToString(const std::vector<uint8_t>& bytes) {
  return std::string(bytes.begin(), bytes.end());
}

// A valid file whose header a canonical writer would never produce: odd key
// order, whitespace and newlines, metadata in the middle, unaligned data,
// tensors in the data buffer in an order unlike the JSON's.
std::string UnusualFile() {
  const std::string big = ToString(test::RandomBytes(3 * 10000 * 4, 7));  // F32 [3,10000]
  const std::string small = ToString(test::RandomBytes(6, 8));            // BF16 [3]
  const std::string scalar = ToString(test::RandomBytes(8, 9));           // I64 []
  const std::string json =
      "{ \"z.small\" : {\"shape\": [3], \"dtype\": \"BF16\", \"data_offsets\": [0, 6]},\n"
      "  \"__metadata__\": {\"format\": \"pt\", \"note\": \"caf\xc3\xa9\"},\n"
      "  \"a.big\": {\"dtype\":\"F32\",\"shape\":[3,10000],\"data_offsets\":[14,120014]},\n"
      "  \"empty\": {\"dtype\":\"U8\",\"shape\":[0],\"data_offsets\":[14,14]},\n"
      "  \"m.scalar\": {\"dtype\":\"I64\",\"shape\":[],\"data_offsets\":[6,14]} }   ";
  return Le64(json.size()) + json + small + scalar + big;
}

TEST_CASE("safetensors io: import then export is byte-identical", "[integration][safetensors]") {
  TempDir dir;
  auto store = OpenStore(dir);
  const std::string file = UnusualFile();
  const std::string path = WriteFile(dir, "in.safetensors", file);

  SaveRequest request;
  request.run = "imported";
  request.step = 5;
  request.meta.attributes["note"] = "caller wins";
  auto info = ImportSafetensors(*store, path, request);
  REQUIRE(info.ok());
  CHECK(info->tensor_count == 4);
  CHECK(info->blob_count == 1);
  CHECK(info->meta.attributes.at("format") == "pt");
  CHECK(info->meta.attributes.at("note") == "caller wins");

  // The stored tensors are the file's bytes.
  auto loaded = store->Load("imported@5");
  REQUIRE(loaded.ok());
  auto header = internal::ParseSafetensorsHeader(file, file.size());
  REQUIRE(header.ok());
  for (const internal::SafetensorsEntry& e : header->entries) {
    INFO(e.name);
    auto it = std::find_if(loaded->tensors.begin(), loaded->tensors.end(),
                           [&](const Tensor& t) { return t.name == e.name; });
    REQUIRE(it != loaded->tensors.end());
    CHECK(it->dtype == e.dtype);
    CHECK(it->shape == e.shape);
    CHECK(ToString(it->data) == file.substr(header->data_start() + e.begin, e.size()));
  }

  uint64_t last_done = 0, last_total = 1;
  ExportOptions options;
  options.sync = true;
  options.progress = [&](uint64_t done, uint64_t total) {
    CHECK(done >= last_done);
    last_done = done;
    last_total = total;
  };
  const std::string out = dir.Sub("out.safetensors");
  REQUIRE(ExportSafetensors(*store, "imported@5", out, options).ok());
  CHECK(ToString(ReadFileBytes(out)) == file);
  CHECK(last_done == last_total);
  CHECK(last_total == file.size() - header->data_start());
  // No temporary file is left beside the output.
  CHECK(ReadFileBytes(out + ".tmp-" + std::to_string(getpid())).empty());

  // Exporting again over the existing file replaces it.
  REQUIRE(ExportSafetensors(*store, "imported", out).ok());
  CHECK(ToString(ReadFileBytes(out)) == file);
}

TEST_CASE("safetensors io: malformed files are rejected and store nothing",
          "[integration][safetensors]") {
  TempDir dir;
  auto store = OpenStore(dir);
  const std::string t = "{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[0,2]}";
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"truncated", std::string(5, '\0')},
      {"length past end", Le64(100) + "{}"},
      {"too large", Le64(200'000'000) + "{}"},
      {"bad json", File("{\"a\":")},
      {"not object", File("[]")},
      {"entry not object", File("{\"t\":1}")},
      {"unknown dtype",
       File("{\"t\":{\"dtype\":\"X9\",\"shape\":[2],\"data_offsets\":[0,2]}}", "ab")},
      {"size mismatch",
       File("{\"t\":{\"dtype\":\"I16\",\"shape\":[2],\"data_offsets\":[0,2]}}", "ab")},
      {"hole", File("{\"t\":" + t + "}", "abc")},
      {"overlap", File("{\"t\":" + t + ",\"u\":" + t + "}", "ab")},
      {"out of range", File("{\"t\":" + t + "}", "a")},
      {"duplicate", File("{\"t\":" + t + ",\"t\":" + t + "}", "ab")},
      {"not utf-8", File("{\"\xff\":" + t + "}", "ab")},
      {"metadata", File("{\"t\":" + t + ",\"__metadata__\":{\"a\":1}}", "ab")},
      {"reserved name", File("{\"safetensors.header\":" + t + "}", "ab")},
  };
  for (const auto& [label, bytes] : cases) {
    INFO(label);
    const std::string path = WriteFile(dir, "bad.safetensors", bytes);
    SaveRequest request;
    request.run = "bad";
    request.step = 1;
    auto r = ImportSafetensors(*store, path, request);
    REQUIRE_FALSE(r.ok());
    CHECK(r.status().code() == Code::kInvalidArgument);
    CHECK_THAT(r.status().message(), Catch::StartsWith("import " + path + ": "));
  }
  auto listed = store->ListCheckpoints("");
  REQUIRE(listed.ok());
  CHECK(listed->empty());

  SaveRequest request;
  request.run = "bad";
  auto missing = ImportSafetensors(*store, dir.Sub("missing.safetensors"), request);
  CHECK(missing.status().code() == Code::kNotFound);

  // The request must not bring its own tensors or blobs.
  const std::string good = WriteFile(dir, "good.safetensors", File("{\"t\":" + t + "}", "ab"));
  const char bytes[2] = {1, 2};
  request.tensors.push_back({"x", DType::kU8, {2}, bytes, 2});
  CHECK(ImportSafetensors(*store, good, request).status().code() == Code::kInvalidArgument);
  request.tensors.clear();
  request.blobs.push_back({"b", bytes, 2});
  CHECK(ImportSafetensors(*store, good, request).status().code() == Code::kInvalidArgument);
  listed = store->ListCheckpoints("");
  REQUIRE(listed.ok());
  CHECK(listed->empty());
}

TEST_CASE("safetensors io: export of an API-saved checkpoint", "[integration][safetensors]") {
  TempDir dir;
  auto store = OpenStore(dir);
  const auto f32 = test::RandomBytes(4 * 5000, 1);
  const auto bf16 = test::RandomBytes(2 * 7, 2);
  const auto i8 = test::RandomBytes(3, 3);
  const auto f64 = test::RandomBytes(8, 4);
  const auto rng = test::RandomBytes(100, 5);
  SaveRequest request;
  request.run = "api";
  request.step = 1;
  request.tensors = {
      {"layer.w", DType::kF32, {100, 50}, f32.data(), f32.size()},
      {"layer.b", DType::kBF16, {7}, bf16.data(), bf16.size()},
      {"odd", DType::kI8, {3}, i8.data(), i8.size()},
      {"scalar", DType::kF64, {}, f64.data(), f64.size()},
  };
  request.blobs = {{"rng", rng.data(), rng.size()}};
  request.meta.attributes = {{"framework", "torch"}, {"step", "1"}};
  REQUIRE(store->Save(request).ok());

  const std::string out = dir.Sub("api.safetensors");
  REQUIRE(ExportSafetensors(*store, "api@1", out).ok());
  const std::string file = ToString(ReadFileBytes(out));
  auto header = internal::ParseSafetensorsHeader(file, file.size());
  REQUIRE(header.ok());
  CHECK(header->data_start() % 8 == 0);
  CHECK(header->metadata == request.meta.attributes);
  REQUIRE(header->entries.size() == request.tensors.size());
  for (size_t i = 0; i < request.tensors.size(); ++i) {
    CHECK(header->entries[i].name == request.tensors[i].name);  // saved order
  }

  SaveRequest again;
  again.run = "reimported";
  again.step = 1;
  REQUIRE(ImportSafetensors(*store, out, again).ok());
  auto original = store->Load("api@1");
  auto reloaded = store->Load("reimported@1");
  REQUIRE(original.ok());
  REQUIRE(reloaded.ok());
  REQUIRE(reloaded->tensors.size() == original->tensors.size());
  for (const Tensor& t : original->tensors) {
    INFO(t.name);
    auto it = std::find_if(reloaded->tensors.begin(), reloaded->tensors.end(),
                           [&](const Tensor& r) { return r.name == t.name; });
    REQUIRE(it != reloaded->tensors.end());
    CHECK(it->dtype == t.dtype);
    CHECK(it->shape == t.shape);
    CHECK(it->data == t.data);
  }
  // The "rng" blob has no place in safetensors; only the header blob is there.
  REQUIRE(reloaded->blobs.size() == 1);
  CHECK(reloaded->blobs[0].name == kSafetensorsHeaderBlob);
  CHECK(reloaded->meta.attributes == request.meta.attributes);

  // And the re-import exports to the same file.
  const std::string out2 = dir.Sub("again.safetensors");
  REQUIRE(ExportSafetensors(*store, "reimported@1", out2).ok());
  CHECK(ToString(ReadFileBytes(out2)) == file);
}

TEST_CASE("safetensors io: export errors leave no file behind", "[integration][safetensors]") {
  TempDir dir;
  auto store = OpenStore(dir);
  const std::string out = dir.Sub("x.safetensors");
  CHECK(ExportSafetensors(*store, "nosuchrun@1", out).code() == Code::kNotFound);
  CHECK(ReadFileBytes(out).empty());

  const auto data = test::RandomBytes(16, 1);
  SaveRequest request;
  request.run = "r";
  request.step = 1;
  request.tensors = {{"t", DType::kU8, {16}, data.data(), data.size()}};
  REQUIRE(store->Save(request).ok());
  Status s = ExportSafetensors(*store, "r@1", dir.Sub("no/such/dir/x.safetensors"));
  CHECK(s.code() == Code::kIOError);
  CHECK_THAT(s.message(), Catch::Contains("no/such/dir/x.safetensors"));
}

}  // namespace
}  // namespace ckpt
