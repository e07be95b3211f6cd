// manifest/manifest_codec: a checkpoint's manifest survives encode/decode
// bit for bit (its hash is the checkpoint id), and no damaged or cut-short
// encoding is ever accepted.
#include "manifest/manifest_codec.h"

#include <catch2/catch.hpp>
#include <cmath>
#include <cstring>
#include <limits>
#include <string>

#include "chunk/chunker.h"

using ckpt::Code;
using ckpt::DType;
using ckpt::internal::DecodeManifest;
using ckpt::internal::Digest;
using ckpt::internal::EncodeManifest;
using ckpt::internal::Manifest;
using ckpt::internal::ManifestEntry;

namespace {

Digest DigestOf(const std::string& text) {
  return ckpt::internal::Sha256(text.data(), text.size());
}

ManifestEntry Entry(std::string name, bool is_blob, DType dtype, std::vector<int64_t> shape,
                    uint64_t byte_length, size_t chunk_count) {
  ManifestEntry e;
  e.name = std::move(name);
  e.is_blob = is_blob;
  e.dtype = dtype;
  e.shape = std::move(shape);
  e.byte_length = byte_length;
  for (size_t i = 0; i < chunk_count; ++i) e.chunks.push_back(DigestOf(e.name + std::to_string(i)));
  return e;
}

// Chunk size 4096: an F32 tensor of 2 chunks, a BF16 tensor of 1, an empty
// tensor, and a blob of 2.
Manifest Sample(bool with_parent) {
  Manifest m;
  m.run = "run-a";
  m.step = 300;
  m.wall_time_ns = -5;  // before the epoch: must survive the fixed64 cast
  if (with_parent) m.parent = DigestOf("parent");
  m.chunk_size = 4096;
  m.metrics["loss"] = 0.25;
  m.metrics["neg"] = -3.5;
  m.metrics["neg_zero"] = -0.0;
  m.metrics["nan"] = std::numeric_limits<double>::quiet_NaN();
  m.metrics["inf"] = -std::numeric_limits<double>::infinity();
  m.attributes["optimizer"] = "adamw";
  m.attributes["empty"] = "";
  m.entries.push_back(Entry("layer.weight", false, DType::kF32, {32, 64}, 8192, 2));
  m.entries.push_back(Entry("layer.bias", false, DType::kBF16, {10}, 20, 1));
  m.entries.push_back(Entry("empty", false, DType::kF32, {0, 3}, 0, 0));
  m.entries.push_back(Entry("rng", true, DType::kU8, {}, 5000, 2));
  return m;
}

uint64_t Bits(double v) {
  uint64_t b;
  std::memcpy(&b, &v, 8);
  return b;
}

void CheckSame(const Manifest& a, const Manifest& b) {
  CHECK(a.run == b.run);
  CHECK(a.step == b.step);
  CHECK(a.wall_time_ns == b.wall_time_ns);
  CHECK(a.parent == b.parent);
  CHECK(a.chunk_size == b.chunk_size);
  REQUIRE(a.metrics.size() == b.metrics.size());
  for (const auto& [name, value] : a.metrics) {
    INFO("metric " << name);
    REQUIRE(b.metrics.count(name) == 1);
    CHECK(Bits(value) == Bits(b.metrics.at(name)));  // NaN and -0.0 compare by bits
  }
  CHECK(a.attributes == b.attributes);
  REQUIRE(a.entries.size() == b.entries.size());
  for (size_t i = 0; i < a.entries.size(); ++i) {
    const ManifestEntry& x = a.entries[i];
    const ManifestEntry& y = b.entries[i];
    INFO("entry " << x.name);
    CHECK(x.name == y.name);
    CHECK(x.is_blob == y.is_blob);
    CHECK(x.dtype == y.dtype);
    CHECK(x.shape == y.shape);
    CHECK(x.byte_length == y.byte_length);
    CHECK(x.chunks == y.chunks);
  }
}

}  // namespace

TEST_CASE("manifests round trip through encode and decode", "[unit][manifest]") {
  const bool with_parent = GENERATE(true, false);
  const Manifest m = Sample(with_parent);
  const std::string bytes = EncodeManifest(m);
  CHECK(bytes.substr(0, 8) == "CKPTMANI");

  Manifest back;
  REQUIRE(DecodeManifest(bytes, &back).ok());
  CheckSame(m, back);
  CHECK(back.parent.has_value() == with_parent);
  CHECK(std::isnan(back.metrics.at("nan")));
  CHECK(std::signbit(back.metrics.at("neg_zero")));
  // Encoding is deterministic, so the checkpoint id is stable.
  CHECK(EncodeManifest(back) == bytes);
  REQUIRE(back.Find("rng") != nullptr);
  CHECK(back.Find("rng")->is_blob);
  CHECK(back.Find("nope") == nullptr);
}

TEST_CASE("every truncation of a manifest is corruption", "[unit][manifest]") {
  const std::string bytes = EncodeManifest(Sample(true));
  for (size_t n = 0; n < bytes.size(); ++n) {
    Manifest out;
    ckpt::Status s = DecodeManifest(std::string_view(bytes).substr(0, n), &out);
    INFO("prefix " << n << " of " << bytes.size() << ": " << s.ToString());
    CHECK(s.code() == Code::kCorruption);
  }
}

TEST_CASE("trailing bytes after a manifest are corruption", "[unit][manifest]") {
  Manifest out;
  CHECK(DecodeManifest(EncodeManifest(Sample(false)) + '\0', &out).code() == Code::kCorruption);
}

TEST_CASE("a manifest of a newer version is a version mismatch", "[unit][manifest]") {
  std::string bytes = EncodeManifest(Sample(true));
  bytes[8] = static_cast<char>(ckpt::internal::kShardedManifestVersion + 1);
  Manifest out;
  CHECK(DecodeManifest(bytes, &out).code() == Code::kVersionMismatch);
}

TEST_CASE("malformed manifest fields are corruption", "[unit][manifest]") {
  Manifest m = Sample(false);
  Manifest out;
  SECTION("bad magic") {
    std::string bytes = EncodeManifest(m);
    bytes[0] = 'X';
    CHECK(DecodeManifest(bytes, &out).code() == Code::kCorruption);
  }
  SECTION("too few chunks for byte_length") {
    m.entries[0].chunks.pop_back();  // 8192 bytes at span 4096 need 2
    CHECK(DecodeManifest(EncodeManifest(m), &out).code() == Code::kCorruption);
  }
  SECTION("too many chunks for byte_length") {
    m.entries[1].chunks.push_back(DigestOf("extra"));
    CHECK(DecodeManifest(EncodeManifest(m), &out).code() == Code::kCorruption);
  }
  SECTION("chunks for an empty tensor") {
    m.entries[2].chunks.push_back(DigestOf("extra"));
    CHECK(DecodeManifest(EncodeManifest(m), &out).code() == Code::kCorruption);
  }
  SECTION("chunk span follows the dtype") {
    // (DecodeManifest appends to its output, so each decode gets a fresh one.)
    // 3 x 4096-byte F64 chunks are right for 12000 bytes at chunk size 4096...
    m.entries.push_back(Entry("f64", false, DType::kF64, {1500}, 12000, 3));
    CHECK(DecodeManifest(EncodeManifest(m), &out).ok());
    // ...but with a 4100-byte chunk size the F64 span is 4096 and U8's 4100.
    m.chunk_size = 4100;
    m.entries = {Entry("blob", true, DType::kU8, {}, 8200, 2)};
    Manifest out2;
    CHECK(DecodeManifest(EncodeManifest(m), &out2).ok());
    m.entries = {Entry("f64", false, DType::kF64, {1025}, 8200, 2)};
    Manifest out3;
    CHECK(DecodeManifest(EncodeManifest(m), &out3).code() == Code::kCorruption);
  }
  SECTION("zero chunk size") {
    m.chunk_size = 0;
    CHECK(DecodeManifest(EncodeManifest(m), &out).code() == Code::kCorruption);
  }
  SECTION("unknown dtype") {
    m.entries[1].dtype = static_cast<DType>(200);
    CHECK(DecodeManifest(EncodeManifest(m), &out).code() == Code::kCorruption);
  }
  SECTION("parent id of the wrong length") {
    std::string bytes = EncodeManifest(m);  // parent unset: one 0x00 length byte
    const size_t parent_at = 8 + 4 + 1 + m.run.size() + 2 + 8;  // step 300 is 2 varint bytes
    REQUIRE(bytes[parent_at] == '\0');
    bytes.insert(parent_at + 1, "abcde");
    bytes[parent_at] = 5;
    CHECK(DecodeManifest(bytes, &out).code() == Code::kCorruption);
  }
}

// Found by the manifest fuzz harness's chunk-coverage invariant
// (tests/fuzz/corpus/manifest/crash-chunk-count-wraps): the chunk count of a
// byte length near 2^64 wrapped around to 0, so a manifest claiming 2^64 - 1
// bytes in no chunks was accepted, and readers would index past the list.
TEST_CASE("a byte length whose chunk count would wrap around is corruption", "[unit][manifest]") {
  Manifest m = Sample(false);
  Manifest out;
  for (uint64_t length : {~uint64_t{0}, ~uint64_t{0} - 4094, ~uint64_t{0} - 4095 + 2}) {
    INFO("byte_length " << length);
    m.entries = {Entry("huge", true, DType::kU8, {}, length, 0)};
    CHECK(DecodeManifest(EncodeManifest(m), &out).code() == Code::kCorruption);
    m.entries = {Entry("huge", false, DType::kF32, {}, length, 1)};
    CHECK(DecodeManifest(EncodeManifest(m), &out).code() == Code::kCorruption);
  }
  CHECK(ckpt::internal::ChunkCount(~uint64_t{0}, 4096) == (uint64_t{1} << 52));
  CHECK(ckpt::internal::ChunkCount(8192, 4096) == 2);
  CHECK(ckpt::internal::ChunkCount(8193, 4096) == 3);
  CHECK(ckpt::internal::ChunkCount(0, 4096) == 0);
}
