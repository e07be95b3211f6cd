// Golden stores: tests/golden/v4/ holds the packs, refs and config that
// format 4 (which this library reads and writes beside format 5) wrote (no index: repair
// rebuilds it). Every later version that claims to read format 4 must read
// them back exactly; this pins the pack, manifest and codec formats. Its
// data exercises zstd, float planes and both kinds of delta.
// Regenerate only for a new format version, into a new folder:
//   CKPT_GOLDEN_OUT=tests/golden/vN ./build/tests/ckpt_tests "[.generate]"
#include <catch2/catch.hpp>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <set>

#include "ckpt/ckpt.h"
#include "index/index.h"
#include "repo/store_context.h"
#include "test_util.h"

using namespace ckpt;
using namespace ckpt::test;

namespace {

const std::string kGoldenV4 = std::string(CKPT_SOURCE_DIR) + "/tests/golden/v4";

// Floats that byte planes compress (a plain function of i, so the same on
// every machine); step 2 nudges their low mantissa bits, which the store
// keeps as a delta.
std::vector<uint8_t> SmoothFloats(uint64_t step) {
  std::vector<uint8_t> out(4096 * 4);
  for (uint32_t i = 0; i < 4096; ++i) {
    uint32_t bits = 0x3c000000u + (i % 251) * 0x1000u + static_cast<uint32_t>(step) * (i % 7);
    std::memcpy(out.data() + i * 4, &bits, 4);
  }
  return out;
}

// The content of golden checkpoint `step`: a pure function of the step.
struct GoldenState {
  std::vector<uint8_t> weights = RandomBytes(5000 * 4, 11);
  std::vector<uint8_t> scale = RandomBytes(64 * 2, 12);
  std::vector<uint8_t> rng;
  std::vector<uint8_t> smooth;
  std::vector<uint8_t> counts = RandomBytes(8192, 13);
  std::string notes;  // text: zstd
  explicit GoldenState(uint64_t step)
      : rng(RandomBytes(16, 100 + step)), smooth(SmoothFloats(step)) {
    counts[step * 3] ^= 0x01;  // a few bytes change: a delta of XORs
    for (int i = 0; i < 100; ++i)
      notes += "step " + std::to_string(step) + " line " + std::to_string(i) + "\n";
    weights[step * 8] ^= 0xff;
  }
  SaveRequest Request(uint64_t step) const {
    SaveRequest r;
    r.run = "golden";
    r.step = step;
    r.tensors.push_back({"weights", DType::kF32, {50, 100}, weights.data(), weights.size()});
    r.tensors.push_back({"scale", DType::kBF16, {64}, scale.data(), scale.size()});
    r.tensors.push_back({"smooth", DType::kF32, {4096}, smooth.data(), smooth.size()});
    r.tensors.push_back({"counts", DType::kU8, {8192}, counts.data(), counts.size()});
    r.blobs.push_back({"rng", rng.data(), rng.size()});
    r.blobs.push_back({"notes", notes.data(), notes.size()});
    r.meta.metrics["loss"] = 2.5 - static_cast<double>(step);
    r.meta.attributes["format"] = "4";
    r.meta.wall_time_ns = 1700000000000000000 + static_cast<int64_t>(step);
    return r;
  }
};

}  // namespace

TEST_CASE("write a golden store", "[.generate]") {
  const char* out = std::getenv("CKPT_GOLDEN_OUT");
  REQUIRE(out != nullptr);
  StoreOptions options;
  options.create_if_missing = true;
  options.error_if_exists = true;
  options.chunk_size = 4096;
  auto store = Store::Open(options, out);
  REQUIRE(store.ok());
  for (uint64_t step = 1; step <= 2; ++step)
    REQUIRE((*store)->Save(GoldenState(step).Request(step)).ok());
  REQUIRE((*store)->Tag("golden@1", "first").ok());
}

TEST_CASE("format 4 golden store reads back exactly", "[integration][golden]") {
  TempDir dir;
  std::filesystem::copy(kGoldenV4, dir.path(), std::filesystem::copy_options::recursive);
  auto report = Store::Repair({}, dir.path());
  REQUIRE(report.ok());
  CHECK(report->checkpoints_restored == 2);
  CHECK(report->tags_restored == 1);
  auto store = Store::Open({}, dir.path());
  REQUIRE(store.ok());
  CHECK((*store)->config().chunk_size == 4096);
  for (uint64_t step = 1; step <= 2; ++step) {
    auto loaded = (*store)->Load("golden@" + std::to_string(step));
    REQUIRE(loaded.ok());
    GoldenState expected(step);
    CHECK(loaded->tensors[0].data == expected.weights);
    CHECK(loaded->tensors[1].data == expected.scale);
    CHECK(loaded->tensors[2].data == expected.smooth);
    CHECK(loaded->tensors[3].data == expected.counts);
    CHECK(loaded->blobs[0].data == expected.rng);
    CHECK(std::string(loaded->blobs[1].data.begin(), loaded->blobs[1].data.end()) ==
          expected.notes);
    CHECK(loaded->meta.metrics.at("loss") == 2.5 - static_cast<double>(step));
    CHECK(loaded->meta.wall_time_ns == 1700000000000000000 + static_cast<int64_t>(step));
  }
  CHECK((*store)->Resolve("first")->step == 1);
  {
    // The golden data reaches every kind of chunk encoding the format has.
    auto index = internal::Index::Open(internal::IndexDirOf(dir.path()), false, true);
    REQUIRE(index.ok());
    std::set<int> codecs;
    REQUIRE((*index)
                ->Scan(internal::kChunkKeys,
                       [&](std::string_view, std::string_view v) {
                         internal::ChunkLocation loc;
                         REQUIRE(internal::DecodeChunkLocation(v, &loc).ok());
                         codecs.insert(loc.codec);
                         return true;
                       })
                .ok());
    INFO("codecs in the golden store: " << codecs.size());
    for (int codec : {0, 1, 6, 16, 21}) {
      INFO("codec " << codec);
      CHECK(codecs.count(codec) == 1);
    }
  }
  VerifyOptions read_data;
  read_data.read_data = true;
  auto verified = (*store)->Verify(read_data);
  REQUIRE(verified.ok());
  CHECK(verified->problems.empty());
}

TEST_CASE("a format 4 store becomes format 5 at its first sharded save",
          "[integration][golden][shard]") {
  TempDir dir;
  std::filesystem::copy(kGoldenV4, dir.path(), std::filesystem::copy_options::recursive);
  REQUIRE(Store::Repair({}, dir.path()).ok());
  auto config_text = [&] {
    std::ifstream f(dir.Sub("config"));
    return std::string((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  };
  const std::string v4 = config_text();
  REQUIRE_THAT(v4, Catch::Contains("format_version=4\n"));
  auto store = Store::Open({}, dir.path());
  REQUIRE(store.ok());
  // An unsharded save keeps format 4.
  std::vector<uint8_t> bytes(64, 7);
  SaveRequest plain;
  plain.run = "golden";
  plain.step = 3;
  plain.tensors.push_back({"x", DType::kU8, {64}, bytes.data(), bytes.size()});
  REQUIRE((*store)->Save(plain).ok());
  CHECK(config_text() == v4);
  // A sharded one raises it first, changing nothing else.
  SaveRequest shard = plain;
  shard.step = 4;
  shard.world_size = 2;
  REQUIRE((*store)->Save(shard).ok());
  std::string v5 = v4;
  v5.replace(v5.find("format_version=4"), 16, "format_version=5");
  CHECK(config_text() == v5);
  shard.rank = 1;
  REQUIRE((*store)->Save(shard).ok());
  store->reset();
  auto reopened = Store::Open({}, dir.path());
  REQUIRE(reopened.ok());
  CHECK((*reopened)->config().format_version == 5);
  CHECK((*reopened)->Load("golden@4").ok());
  CHECK((*reopened)->Load("golden@1").ok());
}
