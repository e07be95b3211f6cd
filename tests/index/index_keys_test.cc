// index/index_keys: the RocksDB key space and value encodings. Keys must
// sort the way scans expect; values must round trip and reject extra bytes.
#include "index/index_keys.h"

#include <algorithm>
#include <catch2/catch.hpp>
#include <string>
#include <vector>

#include "util/bytes.h"

using ckpt::Code;
using namespace ckpt::internal;

TEST_CASE("RunStepKey sorts by step numerically", "[unit][index]") {
  const std::vector<uint64_t> steps = {0, 2, 10, 255, 256, 1000, uint64_t{1} << 40, UINT64_MAX};
  std::vector<std::string> keys;
  for (uint64_t s : steps) keys.push_back(RunStepKey("run", s));
  CHECK(std::is_sorted(keys.begin(), keys.end()));
  CHECK(RunStepKey("run", 2) < RunStepKey("run", 10));
  CHECK(RunStepKey("run", 10) < RunStepKey("run", 256));
  for (const auto& k : keys) CHECK(k.rfind(RunPrefix("run"), 0) == 0);
  // One run's keys never fall under another run's prefix, even a prefix of its name.
  CHECK(RunStepKey("run2", 0).rfind(RunPrefix("run"), 0) == std::string::npos);
}

TEST_CASE("ParseRunStepKey inverts RunStepKey", "[unit][index]") {
  const std::string run =
      GENERATE(std::string("r"), std::string("run-with.dots_and-dashes"), std::string(""));
  const uint64_t step = GENERATE(uint64_t{0}, uint64_t{2}, uint64_t{256}, UINT64_MAX);
  std::string parsed_run = "unchanged";
  uint64_t parsed_step = 12345;
  REQUIRE(ParseRunStepKey(RunStepKey(run, step), &parsed_run, &parsed_step));
  CHECK(parsed_run == run);
  CHECK(parsed_step == step);
}

TEST_CASE("ParseRunStepKey rejects malformed keys", "[unit][index]") {
  std::string run;
  uint64_t step = 0;
  const std::string good = RunStepKey("run", 7);
  CHECK_FALSE(ParseRunStepKey("", &run, &step));
  CHECK_FALSE(ParseRunStepKey(good.substr(0, good.size() - 1), &run, &step));
  CHECK_FALSE(ParseRunStepKey("T" + good.substr(1), &run, &step));
  std::string no_separator = good;
  no_separator[no_separator.size() - 9] = 'x';
  CHECK_FALSE(ParseRunStepKey(no_separator, &run, &step));
}

TEST_CASE("key prefixes are the documented bytes", "[unit][index]") {
  const Digest d = Sha256("x", 1);
  CHECK(ChunkKey(d) == "C" + std::string(d.View()));
  CHECK(CheckpointKey(d) == "M" + std::string(d.View()));
  CHECK(TagKey("best") == "Tbest");
  CHECK(RunPrefix("r") == std::string("Rr\0", 3));
  const std::string pack_id(32, 'a');
  CHECK(PackKey(pack_id) == "P" + std::string(16, '\xaa'));
}

TEST_CASE("ChunkLocation round trips and rejects bad bytes", "[unit][index]") {
  ChunkLocation loc;
  loc.pack_id = "00112233445566778899aabbccddeeff";
  loc.offset = uint64_t{1} << 40;
  loc.length = UINT32_MAX;
  loc.raw_length = 128;
  loc.codec = 3;
  const std::string bytes = EncodeChunkLocation(loc);

  ChunkLocation back;
  REQUIRE(DecodeChunkLocation(bytes, &back).ok());
  CHECK(back.pack_id == loc.pack_id);
  CHECK(back.offset == loc.offset);
  CHECK(back.length == loc.length);
  CHECK(back.raw_length == loc.raw_length);
  CHECK(back.codec == loc.codec);

  CHECK(DecodeChunkLocation(bytes + "x", &back).code() == Code::kCorruption);
  for (size_t n = 0; n < bytes.size(); ++n)
    CHECK(DecodeChunkLocation(bytes.substr(0, n), &back).code() == Code::kCorruption);

  // A length that does not fit the u32 field is rejected, not truncated.
  std::string wide = bytes.substr(0, 16);
  PutVarint(&wide, 0);
  PutVarint(&wide, uint64_t{1} << 32);
  PutVarint(&wide, 1);
  wide.push_back('\0');
  CHECK(DecodeChunkLocation(wide, &back).code() == Code::kCorruption);
}

TEST_CASE("CheckpointRecord round trips and rejects bad bytes", "[unit][index]") {
  CheckpointRecord rec;
  rec.new_bytes = 1;
  rec.new_raw_bytes = uint64_t{1} << 33;
  rec.shared_bytes = 0;
  rec.manifest = std::string("CKPTMANI\0\x01", 10);
  rec.manifest_location = {"00112233445566778899aabbccddeeff", 4096, 77, 10, 1, {}, 0};
  const std::string bytes = EncodeCheckpointRecord(rec);

  CheckpointRecord back;
  REQUIRE(DecodeCheckpointRecord(bytes, &back).ok());
  CHECK(back.new_bytes == rec.new_bytes);
  CHECK(back.new_raw_bytes == rec.new_raw_bytes);
  CHECK(back.shared_bytes == rec.shared_bytes);
  CHECK(back.manifest == rec.manifest);
  CHECK(back.manifest_location.pack_id == rec.manifest_location.pack_id);
  CHECK(back.manifest_location.offset == 4096);
  CHECK(back.manifest_location.length == 77);

  CHECK(DecodeCheckpointRecord(bytes + "x", &back).code() == Code::kCorruption);
  CHECK(DecodeCheckpointRecord(bytes.substr(0, bytes.size() - 1), &back).code() ==
        Code::kCorruption);
}

TEST_CASE("PackRecord round trips and rejects bad bytes", "[unit][index]") {
  PackRecord rec;
  rec.size = 123456789;
  rec.entry_count = 42;
  const std::string bytes = EncodePackRecord(rec);

  PackRecord back;
  REQUIRE(DecodePackRecord(bytes, &back).ok());
  CHECK(back.size == rec.size);
  CHECK(back.entry_count == rec.entry_count);
  CHECK(DecodePackRecord(bytes + '\0', &back).code() == Code::kCorruption);
  CHECK(DecodePackRecord(bytes.substr(0, 1), &back).code() == Code::kCorruption);
  CHECK(DecodePackRecord("", &back).code() == Code::kCorruption);
}

TEST_CASE("delta chunk locations carry their base and depth", "[unit][index]") {
  ChunkLocation loc{"00112233445566778899aabbccddeeff", 123, 456, 262144, 21, {}, 3};
  loc.base.bytes.fill(0xAB);
  const std::string bytes = EncodeChunkLocation(loc);
  ChunkLocation back;
  REQUIRE(DecodeChunkLocation(bytes, &back).ok());
  CHECK(back.is_delta());
  CHECK(back.base == loc.base);
  CHECK(back.depth == 3);
  CHECK(back.codec == 21);
  // Without the 33 trailing bytes, with depth 0, or with bytes after them:
  // malformed.
  CHECK(DecodeChunkLocation(bytes.substr(0, bytes.size() - 33), &back).code() ==
        ckpt::Code::kCorruption);
  std::string zero_depth = bytes;
  zero_depth.back() = 0;
  CHECK(DecodeChunkLocation(zero_depth, &back).code() == ckpt::Code::kCorruption);
  CHECK(DecodeChunkLocation(bytes + "x", &back).code() == ckpt::Code::kCorruption);
  // A whole chunk's location has no base.
  loc.codec = 1;
  loc.depth = 0;
  REQUIRE(DecodeChunkLocation(EncodeChunkLocation(loc), &back).ok());
  CHECK_FALSE(back.is_delta());
}

TEST_CASE("CheckpointSummary round trips and rejects bad bytes", "[unit][index]") {
  CheckpointSummary summary;
  summary.tensor_count = 3;
  summary.blob_count = 1;
  summary.logical_bytes = uint64_t{1} << 40;
  summary.new_bytes = 5;
  summary.new_raw_bytes = 6;
  summary.shared_bytes = 7;
  summary.head = std::string("CKPTMANI\0\x01", 10);
  const std::string bytes = EncodeCheckpointSummary(summary);

  CheckpointSummary back;
  REQUIRE(DecodeCheckpointSummary(bytes, &back).ok());
  CHECK(back == summary);
  CHECK(DecodeCheckpointSummary(bytes + "x", &back).code() == Code::kCorruption);
  CHECK(DecodeCheckpointSummary(bytes.substr(0, bytes.size() - 1), &back).code() ==
        Code::kCorruption);
}
