// The golden bytes of docs/format.md are the bytes the library writes and
// reads. Each ```hex golden=NAME``` (or ```text golden=NAME```) block of the
// document is extracted here; the encoders must produce exactly those bytes,
// the decoders must accept them, and where the format has a checksum a
// flipped byte must be rejected. A change to the format must change the
// document, and the other way round.
#include <catch2/catch.hpp>
#include <cstring>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "ckpt/version.h"
#include "codec/byte_plane.h"
#include "codec/chunk_codec.h"
#include "codec/element_transform.h"
#include "codec/plane_coder.h"
#include "hash/sha256.h"
#include "index/index_keys.h"
#include "manifest/entry_view.h"
#include "manifest/manifest_codec.h"
#include "pack/pack_format.h"
#include "repo/config.h"
#include "repo/policy_codec.h"
#include "test_util.h"

using namespace ckpt;
using namespace ckpt::internal;

namespace {

std::string FormatDoc() { return ckpt::test::FormatDocText(); }

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Bytes of a hex block: pairs of hex digits separated by white space;
// everything from '#' to the end of a line is a comment.
std::string ParseHex(const std::string& name, const std::string& body) {
  std::string out;
  std::istringstream lines(body);
  std::string line;
  while (std::getline(lines, line)) {
    line = line.substr(0, line.find('#'));
    std::istringstream words(line);
    std::string word;
    while (words >> word) {
      INFO("golden block " << name << ": '" << word << "'");
      REQUIRE(word.size() == 2);
      const int hi = HexValue(word[0]), lo = HexValue(word[1]);
      REQUIRE(hi >= 0);
      REQUIRE(lo >= 0);
      out.push_back(static_cast<char>(hi * 16 + lo));
    }
  }
  return out;
}

// name -> bytes of every golden block of docs/format.md.
std::map<std::string, std::string> GoldenBlocks() {
  std::map<std::string, std::string> blocks;
  std::istringstream doc(FormatDoc());
  std::string line;
  while (std::getline(doc, line)) {
    bool hex = line.rfind("```hex golden=", 0) == 0;
    bool text = line.rfind("```text golden=", 0) == 0;
    if (!hex && !text) continue;
    const std::string name = line.substr(line.find('=') + 1);
    std::string body;
    while (std::getline(doc, line) && line != "```") body += line + "\n";
    INFO("golden block " << name);
    REQUIRE(line == "```");
    REQUIRE(blocks.count(name) == 0);
    blocks[name] = hex ? ParseHex(name, body) : body;
  }
  return blocks;
}

const std::string& Golden(const std::map<std::string, std::string>& blocks,
                          const std::string& name) {
  auto it = blocks.find(name);
  INFO("docs/format.md lacks the block ```hex golden=" << name << "```");
  REQUIRE(it != blocks.end());
  return it->second;
}

std::string Hex(const std::string& bytes) {
  static const char* digits = "0123456789abcdef";
  std::string out;
  for (size_t i = 0; i < bytes.size(); ++i) {
    const auto b = static_cast<uint8_t>(bytes[i]);
    out += digits[b >> 4];
    out += digits[b & 15];
    out += (i % 16 == 15) ? '\n' : ' ';
  }
  return out;
}

// Compares byte strings and shows both in hex when they differ.
void CheckBytes(const std::string& what, const std::string& actual, const std::string& golden) {
  INFO(what << ": the library wrote\n" << Hex(actual) << "\nthe document says\n" << Hex(golden));
  CHECK(actual == golden);
}

std::string F32(const std::vector<float>& values) {
  std::string s(values.size() * 4, '\0');
  std::memcpy(s.data(), values.data(), s.size());
  return s;
}

// The 512 raw bytes of the zstd chunk: "ckpt" × 32, then each letter +1,
// +2, +3 for the next 128 bytes.
std::string ZstdChunkRaw() {
  std::string s;
  for (int i = 0; i < 512; ++i) s.push_back(static_cast<char>("ckpt"[i % 4] + i / 128));
  return s;
}

// The tiny checkpoint demo@7 of the manifest example.
Manifest TinyManifest() {
  const std::string w = F32({1.0f, -2.0f});
  const std::string rng = "\x01\x02\x03";
  Manifest m;
  m.run = "demo";
  m.step = 7;
  m.wall_time_ns = 1700000000000000000;
  m.chunk_size = 4096;
  m.metrics["loss"] = 0.5;
  m.attributes["note"] = "tiny";
  ManifestEntry t;
  t.name = "w";
  t.dtype = DType::kF32;
  t.shape = {2};
  t.byte_length = 8;
  t.chunks = {Sha256(w.data(), w.size())};
  ManifestEntry b;
  b.name = "rng";
  b.is_blob = true;
  b.dtype = DType::kU8;
  b.shape = {3};
  b.byte_length = 3;
  b.chunks = {Sha256(rng.data(), rng.size())};
  m.entries = {t, b};
  return m;
}

std::string Flipped(std::string bytes, size_t at) {
  bytes[at] = static_cast<char>(bytes[at] ^ 0x01);
  return bytes;
}

}  // namespace

TEST_CASE("format.md: every golden block is present", "[unit][format]") {
  auto blocks = GoldenBlocks();
  for (const char* name :
       {"config", "chunk-zstd", "chunk-float-planes4-small", "chunk-float-planes4", "pack",
        "manifest", "run-step-key", "chunk-location", "chunk-location-delta", "policy"})
    Golden(blocks, name);
}

TEST_CASE("format.md: config", "[unit][format]") {
  const std::string golden = Golden(GoldenBlocks(), "config");
  StoreConfig c;
  c.format_version = kFormatVersion;
  c.chunk_size = 262144;
  c.zstd_level = 3;
  c.delta_max_depth = 1;
  c.store_id = "448b774df616d0b588b19d3b7a017592";
  CheckBytes("config", EncodeConfig(c), golden);
  StoreConfig decoded;
  REQUIRE(DecodeConfig(golden, &decoded).ok());
  CHECK(decoded.format_version == kFormatVersion);
  CHECK(decoded.chunk_size == 262144);
  CHECK(decoded.zstd_level == 3);
  CHECK(decoded.delta_max_depth == 1);
  CHECK(decoded.store_id == c.store_id);
  // A newer store format is refused as such.
  std::string newer = golden;
  const std::string current = "format_version=" + std::to_string(kFormatVersion);
  newer.replace(newer.find(current), current.size(),
                "format_version=" + std::to_string(kFormatVersion + 1));
  CHECK(DecodeConfig(newer, &decoded).code() == Code::kVersionMismatch);
  std::string malformed = golden + "no equals sign\n";
  CHECK(DecodeConfig(malformed, &decoded).code() == Code::kCorruption);
}

TEST_CASE("format.md: zstd chunk (codec 1)", "[unit][format]") {
  const std::string golden = Golden(GoldenBlocks(), "chunk-zstd");
  const std::string raw = ZstdChunkRaw();
  EncodeParams params;
  params.zstd_level = 3;
  std::string encoded;
  CHECK(EncodeChunk(raw.data(), raw.size(), params, &encoded) == Codec::kZstd);
  CheckBytes("codec 1 chunk", encoded, golden);
  std::string decoded(raw.size(), '\0');
  REQUIRE(
      DecodeChunk(Codec::kZstd, golden.data(), golden.size(), decoded.data(), decoded.size()).ok());
  CHECK(decoded == raw);
  CHECK(ChunkSelfChecked(Codec::kZstd, golden.data(), golden.size()));
  // The frame's content checksum catches a flipped byte of it.
  const std::string bad = Flipped(golden, golden.size() - 1);
  CHECK(DecodeChunk(Codec::kZstd, bad.data(), bad.size(), decoded.data(), decoded.size()).code() ==
        Code::kCorruption);
  // Another length than the recorded raw length is corruption.
  std::string shorter(raw.size() - 1, '\0');
  CHECK(DecodeChunk(Codec::kZstd, golden.data(), golden.size(), shorter.data(), shorter.size())
            .code() == Code::kCorruption);
}

TEST_CASE("format.md: float-planes chunks (codec 6)", "[unit][format]") {
  auto blocks = GoldenBlocks();
  SECTION("four values, stored planes") {
    const std::string golden = Golden(blocks, "chunk-float-planes4-small");
    const std::string raw = F32({1.0f, -2.0f, 0.5f, 3.0f});
    std::string rotated(raw.size(), '\0'), planes(raw.size(), '\0');
    RotateSignToLow(reinterpret_cast<const uint8_t*>(raw.data()), 4, 4,
                    reinterpret_cast<uint8_t*>(rotated.data()));
    BytePlaneSplit(reinterpret_cast<const uint8_t*>(rotated.data()), raw.size(), 4,
                   reinterpret_cast<uint8_t*>(planes.data()));
    std::string body;
    EncodePlaneBody(reinterpret_cast<const uint8_t*>(planes.data()), planes.size(), 4, 1, nullptr,
                    &body);
    CheckBytes("plane body", body, golden);
    std::string decoded(raw.size(), '\0');
    REQUIRE(DecodeChunk(Codec::kFloatPlanes4, golden.data(), golden.size(), decoded.data(),
                        decoded.size())
                .ok());
    CHECK(decoded == raw);
    // The XXH3-64 covers every byte after it, and itself must match.
    for (size_t at : {size_t{0}, size_t{9}, golden.size() - 1}) {
      const std::string bad = Flipped(golden, at);
      CHECK(
          DecodeChunk(Codec::kFloatPlanes4, bad.data(), bad.size(), decoded.data(), decoded.size())
              .code() == Code::kCorruption);
    }
  }
  SECTION("256 values through the chunk encoder") {
    const std::string golden = Golden(blocks, "chunk-float-planes4");
    const std::string raw = F32(std::vector<float>(256, 1.0f));
    EncodeParams params;
    params.elem_size = 4;
    params.is_float = true;
    params.zstd_level = 3;
    params.planes = PlanesChoice::kUse;
    std::string encoded;
    CHECK(EncodeChunk(raw.data(), raw.size(), params, &encoded) == Codec::kFloatPlanes4);
    CheckBytes("codec 6 chunk", encoded, golden);
    std::string decoded(raw.size(), '\0');
    REQUIRE(DecodeChunk(Codec::kFloatPlanes4, golden.data(), golden.size(), decoded.data(),
                        decoded.size())
                .ok());
    CHECK(decoded == raw);
    CHECK(ChunkSelfChecked(Codec::kFloatPlanes4, golden.data(), golden.size()));
    const std::string bad = Flipped(golden, 40);
    CHECK(DecodeChunk(Codec::kFloatPlanes4, bad.data(), bad.size(), decoded.data(), decoded.size())
              .code() == Code::kCorruption);
  }
}

TEST_CASE("format.md: manifest", "[unit][format]") {
  auto blocks = GoldenBlocks();
  const std::string golden = Golden(blocks, "manifest");
  const Manifest m = TinyManifest();
  CheckBytes("manifest", EncodeManifest(m), golden);
  const Digest id = Sha256(golden.data(), golden.size());
  CHECK(id.Hex() == "d743fb3b8ceb42ca78844d1b16cd210ddb7957ec3ddc70208fb04fd8e2040a98");
  CHECK_THAT(FormatDoc(), Catch::Contains(id.Hex()));
  Manifest decoded;
  REQUIRE(DecodeManifest(golden, &decoded).ok());
  CHECK(decoded.run == "demo");
  CHECK(decoded.step == 7);
  CHECK(decoded.wall_time_ns == 1700000000000000000);
  CHECK_FALSE(decoded.parent.has_value());
  CHECK(decoded.chunk_size == 4096);
  CHECK(decoded.metrics == m.metrics);
  CHECK(decoded.attributes == m.attributes);
  REQUIRE(decoded.entries.size() == 2);
  CHECK(decoded.entries[0].name == "w");
  CHECK(decoded.entries[1].is_blob);
  CHECK(decoded.entries[1].chunks == m.entries[1].chunks);
  CHECK(EncodeManifest(decoded) == golden);
  // No trailing bytes, no truncation.
  CHECK(DecodeManifest(golden + '\0', &decoded).code() == Code::kCorruption);
  CHECK(DecodeManifest(golden.substr(0, golden.size() - 1), &decoded).code() == Code::kCorruption);
  // A newer manifest version is refused as such.
  std::string newer = golden;
  newer[8] = 3;
  CHECK(DecodeManifest(newer, &decoded).code() == Code::kVersionMismatch);
}

TEST_CASE("format.md: sharded manifest", "[unit][format]") {
  const std::string golden = Golden(GoldenBlocks(), "manifest-sharded");
  Manifest m;
  m.run = std::string("demo");
  m.step = 7;
  m.wall_time_ns = 1700000000000000000;
  m.chunk_size = 4096;
  m.world_size = 2;
  ManifestEntry w;
  w.name = "w";
  w.dtype = DType::kF32;
  w.shape = {1};
  w.global_shape = {2};
  w.offsets = {1};
  w.writer = 1;
  const std::string minus_two("\x00\x00\x00\xc0", 4);
  w.byte_length = 4;
  w.chunks = {Sha256(minus_two.data(), 4)};
  ManifestEntry rng;
  rng.name = "rng";
  rng.is_blob = true;
  rng.dtype = DType::kU8;
  rng.shape = {3};
  rng.byte_length = 3;
  rng.local_rank = 0;
  rng.chunks = {Sha256("\x01\x02\x03", 3)};
  m.entries = {w, rng};
  CheckBytes("sharded manifest", EncodeManifest(m), golden);
  Manifest decoded;
  REQUIRE(DecodeManifest(golden, &decoded).ok());
  CHECK(decoded.world_size == 2);
  REQUIRE(decoded.entries.size() == 2);
  CHECK(decoded.entries[0].is_piece());
  CHECK(decoded.entries[0].offsets == std::vector<int64_t>{1});
  CHECK(decoded.entries[1].local_rank == 0);
  auto views = ViewEntries(decoded);
  REQUIRE(views.ok());
  REQUIRE(views->size() == 2);
  CHECK((*views)[0].name == "w");
  CHECK((*views)[0].shape == std::vector<int64_t>{2});
  CHECK((*views)[1].name == "rank0/rng");
}

TEST_CASE("format.md: pack", "[unit][format]") {
  auto blocks = GoldenBlocks();
  const std::string golden = Golden(blocks, "pack");
  const std::string chunk = Golden(blocks, "chunk-zstd");
  const std::string manifest = Golden(blocks, "manifest");
  const std::string raw = ZstdChunkRaw();

  // The writer's bytes: header, the two entries, index and trailer.
  std::string pack = EncodePackHeader();
  std::vector<PackEntry> entries(2);
  entries[0].kind = EntryKind::kChunk;
  entries[0].codec = static_cast<uint8_t>(Codec::kZstd);
  entries[0].digest = Sha256(raw.data(), raw.size());
  entries[0].offset = pack.size();
  entries[0].length = static_cast<uint32_t>(chunk.size());
  entries[0].raw_length = static_cast<uint32_t>(raw.size());
  pack += chunk;
  std::string encoded_manifest;
  CHECK(EncodeChunk(manifest.data(), manifest.size(), {}, &encoded_manifest) == Codec::kRaw);
  entries[1].kind = EntryKind::kManifest;
  entries[1].codec = static_cast<uint8_t>(Codec::kRaw);
  entries[1].digest = Sha256(manifest.data(), manifest.size());
  entries[1].offset = pack.size();
  entries[1].length = static_cast<uint32_t>(encoded_manifest.size());
  entries[1].raw_length = static_cast<uint32_t>(manifest.size());
  pack += encoded_manifest;
  AppendPackIndex(entries, pack.size(), &pack);
  CheckBytes("pack", pack, golden);

  // The reader's way: header, trailer, index, entries.
  REQUIRE(golden.size() == 350);
  REQUIRE(CheckPackHeader(golden.substr(0, kPackHeaderSize)).ok());
  PackTrailer trailer;
  REQUIRE(
      DecodePackTrailer(golden.substr(golden.size() - kPackTrailerSize), golden.size(), &trailer)
          .ok());
  CHECK(trailer.index_offset == 194);
  CHECK(trailer.entry_count == 2);
  const std::string index_bytes =
      golden.substr(trailer.index_offset, trailer.entry_count * kPackRecordSize);
  std::vector<PackEntry> read;
  REQUIRE(DecodePackIndex(index_bytes, trailer, golden.size(), &read).ok());
  REQUIRE(read.size() == 2);
  for (const PackEntry& e : read) {
    std::string decoded(e.raw_length, '\0');
    REQUIRE(DecodeChunk(static_cast<Codec>(e.codec), golden.data() + e.offset, e.length,
                        decoded.data(), decoded.size())
                .ok());
    CHECK(Sha256(decoded.data(), decoded.size()) == e.digest);
  }
  CHECK(read[1].kind == EntryKind::kManifest);
  CHECK(read[1].digest.Hex() == "d743fb3b8ceb42ca78844d1b16cd210ddb7957ec3ddc70208fb04fd8e2040a98");

  // The index's SHA-256 catches a flipped byte of the index.
  const std::string bad_index = Flipped(index_bytes, 3);
  CHECK(DecodePackIndex(bad_index, trailer, golden.size(), &read).code() == Code::kCorruption);
  // A torn trailer (flipped end magic) and a bad magic are corruption.
  const std::string torn = Flipped(golden, golden.size() - 1);
  CHECK(DecodePackTrailer(torn.substr(torn.size() - kPackTrailerSize), torn.size(), &trailer)
            .code() == Code::kCorruption);
  CHECK(CheckPackHeader(Flipped(golden, 0).substr(0, kPackHeaderSize)).code() == Code::kCorruption);
  // A newer pack version is refused as such.
  std::string newer = golden.substr(0, kPackHeaderSize);
  newer[8] = 3;
  CHECK(CheckPackHeader(newer).code() == Code::kVersionMismatch);
  // The trailer must point exactly at the index.
  const std::string longer = golden.substr(0, 16) + std::string(1, '\0') + golden.substr(16);
  CHECK(DecodePackTrailer(longer.substr(longer.size() - kPackTrailerSize), longer.size(), &trailer)
            .code() == Code::kCorruption);
}

TEST_CASE("format.md: index keys and chunk locations", "[unit][format]") {
  auto blocks = GoldenBlocks();
  CheckBytes("R key", RunStepKey("demo", 7), Golden(blocks, "run-step-key"));
  std::string run;
  uint64_t step = 0;
  REQUIRE(ParseRunStepKey(Golden(blocks, "run-step-key"), &run, &step));
  CHECK(run == "demo");
  CHECK(step == 7);

  const std::string raw = ZstdChunkRaw();
  ChunkLocation whole;
  whole.pack_id = "927e9d87e248288aea28d2b0b1116b4c";
  whole.offset = 16;
  whole.length = 41;
  whole.raw_length = 512;
  whole.codec = static_cast<uint8_t>(Codec::kZstd);
  const std::string golden_whole = Golden(blocks, "chunk-location");
  CheckBytes("chunk location", EncodeChunkLocation(whole), golden_whole);
  ChunkLocation decoded;
  REQUIRE(DecodeChunkLocation(golden_whole, &decoded).ok());
  CHECK(decoded.pack_id == whole.pack_id);
  CHECK(decoded.offset == 16);
  CHECK(decoded.length == 41);
  CHECK(decoded.raw_length == 512);
  CHECK(decoded.codec == 1);
  CHECK(decoded.depth == 0);
  CHECK(DecodeChunkLocation(golden_whole + '\0', &decoded).code() == Code::kCorruption);

  ChunkLocation delta = whole;
  delta.offset = 300;
  delta.length = 1234;
  delta.raw_length = 262144;
  delta.codec = static_cast<uint8_t>(Codec::kDeltaSubPlanes4);
  delta.base = Sha256(raw.data(), raw.size());
  delta.depth = 1;
  const std::string golden_delta = Golden(blocks, "chunk-location-delta");
  CheckBytes("delta chunk location", EncodeChunkLocation(delta), golden_delta);
  REQUIRE(DecodeChunkLocation(golden_delta, &decoded).ok());
  CHECK(decoded.codec == 21);
  CHECK(decoded.base == delta.base);
  CHECK(decoded.depth == 1);
  // A delta location without its base and depth, or with depth 0, is corrupt.
  CHECK(DecodeChunkLocation(golden_delta.substr(0, golden_delta.size() - 33), &decoded).code() ==
        Code::kCorruption);
  std::string depth0 = golden_delta;
  depth0.back() = 0;
  CHECK(DecodeChunkLocation(depth0, &decoded).code() == Code::kCorruption);
}

TEST_CASE("format.md: retention policy", "[unit][format]") {
  const std::string golden = Golden(GoldenBlocks(), "policy");
  RetentionPolicy policy;
  policy.keep_last = 3;
  policy.keep_best.push_back({2, "loss", true});
  CheckBytes("policy", EncodePolicy(policy), golden);
  RetentionPolicy decoded;
  REQUIRE(DecodePolicy(golden, &decoded).ok());
  CHECK(decoded.keep_last == 3);
  REQUIRE(decoded.keep_best.size() == 1);
  CHECK(decoded.keep_best[0].count == 2);
  CHECK(decoded.keep_best[0].metric == "loss");
  CHECK(decoded.keep_best[0].minimize);
  CHECK(DecodePolicy(golden + '\0', &decoded).code() == Code::kCorruption);
  std::string version2 = golden;
  version2[0] = 2;
  CHECK(DecodePolicy(version2, &decoded).code() == Code::kCorruption);
}
