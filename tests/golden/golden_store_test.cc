// Golden stores: tests/golden/v1/ holds the packs, refs and config that
// format 1 wrote (no index: repair rebuilds it). Every later version must
// read them back exactly; this pins the pack and manifest formats.
// Regenerate only for a new format version, into a new folder:
//   CKPT_GOLDEN_OUT=tests/golden/vN ./build/tests/ckpt_tests "[.generate]"
#include <catch2/catch.hpp>
#include <cstdlib>
#include <filesystem>

#include "ckpt/ckpt.h"
#include "test_util.h"

using namespace ckpt;
using namespace ckpt::test;

namespace {

const std::string kGoldenV1 = std::string(CKPT_SOURCE_DIR) + "/tests/golden/v1";

// The content of golden checkpoint `step`: a pure function of the step.
struct GoldenState {
  std::vector<uint8_t> weights = RandomBytes(5000 * 4, 11);
  std::vector<uint8_t> scale = RandomBytes(64 * 2, 12);
  std::vector<uint8_t> rng;
  explicit GoldenState(uint64_t step) : rng(RandomBytes(16, 100 + step)) {
    weights[step * 8] ^= 0xff;
  }
  SaveRequest Request(uint64_t step) const {
    SaveRequest r;
    r.run = "golden";
    r.step = step;
    r.tensors.push_back({"weights", DType::kF32, {50, 100}, weights.data(), weights.size()});
    r.tensors.push_back({"scale", DType::kBF16, {64}, scale.data(), scale.size()});
    r.blobs.push_back({"rng", rng.data(), rng.size()});
    r.meta.metrics["loss"] = 2.5 - static_cast<double>(step);
    r.meta.attributes["format"] = "1";
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

TEST_CASE("format 1 golden store reads back exactly", "[integration][golden]") {
  TempDir dir;
  std::filesystem::copy(kGoldenV1, dir.path(), std::filesystem::copy_options::recursive);
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
    CHECK(loaded->blobs[0].data == expected.rng);
    CHECK(loaded->meta.metrics.at("loss") == 2.5 - static_cast<double>(step));
    CHECK(loaded->meta.wall_time_ns == 1700000000000000000 + static_cast<int64_t>(step));
  }
  CHECK((*store)->Resolve("first")->step == 1);
}
