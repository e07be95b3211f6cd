// A load reads the chunks that lie together in a pack, and their delta
// bases, with a few large requests rather than one per chunk (what makes a
// restore from object storage fast), and still checks every chunk.
#include <catch2/catch.hpp>

#include "doubles/fault_injecting_backend.h"
#include "store/store_fixture.h"

using namespace ckpt;
using namespace ckpt::test;
using ckpt::internal::FaultInjectingBackend;

namespace {

constexpr uint32_t kChunk = 4096;
constexpr size_t kChunks = 200;

std::vector<uint8_t> Weights(uint64_t seed) { return RandomBytes(kChunks * kChunk, seed); }

Result<CheckpointInfo> SaveWeights(Store& store, uint64_t step, const std::vector<uint8_t>& w) {
  SaveRequest r;
  r.run = "run";
  r.step = step;
  r.tensors.push_back({"w", DType::kF32, {int64_t(w.size() / 4)}, w.data(), w.size()});
  return store.Save(r);
}

}  // namespace

TEST_CASE("a load reads neighbouring chunks and their bases in a few requests", "[integration]") {
  TempDir dir;
  auto counting = std::make_shared<FaultInjectingBackend>(NewLocalBackend(dir.path()));
  StoreOptions options;
  options.backend = counting;
  options.chunk_size = kChunk;
  auto store = MustOpen(dir.path(), options);
  auto first = Weights(1);
  REQUIRE(SaveWeights(*store, 1, first).ok());
  // Every chunk changes a little: the second checkpoint is deltas over the first.
  auto second = first;
  for (size_t i = 0; i < second.size(); i += 64) second[i] ^= 1;
  auto saved = SaveWeights(*store, 2, second);
  REQUIRE(saved.ok());

  std::vector<uint8_t> back(second.size());
  const uint64_t before = counting->gets();
  REQUIRE(store->LoadEntry("run@2", "w", back.data(), back.size()).ok());
  const uint64_t gets = counting->gets() - before;
  CHECK(back == second);
  INFO(gets << " reads for " << kChunks << " chunks");
  CHECK(gets < kChunks / 10);

  // Still every chunk checked: a flipped byte in the packs fails the load.
  counting->CorruptGetsOf("packs/");
  CHECK(store->LoadEntry("run@2", "w", back.data(), back.size()).code() == Code::kCorruption);
  counting->Clear();
  REQUIRE(store->LoadEntry("run@1", "w", back.data(), back.size()).ok());
  CHECK(back == first);
}

TEST_CASE("a load reads every level of its delta chains in a few requests", "[integration]") {
  TempDir dir;
  auto counting = std::make_shared<FaultInjectingBackend>(NewLocalBackend(dir.path()));
  StoreOptions options;
  options.backend = counting;
  options.chunk_size = kChunk;
  options.delta_max_depth = 3;
  auto store = MustOpen(dir.path(), options);
  // Every chunk changes a little at every step: the fourth checkpoint's
  // chunks are deltas over deltas over deltas over the first's.
  std::vector<std::vector<uint8_t>> steps{Weights(1)};
  REQUIRE(SaveWeights(*store, 1, steps.back()).ok());
  for (uint64_t step = 2; step <= 4; ++step) {
    auto next = steps.back();
    for (size_t i = step; i < next.size(); i += 64) next[i] ^= 1;
    steps.push_back(next);
    REQUIRE(SaveWeights(*store, step, next).ok());
  }
  auto stats = store->Stats();
  REQUIRE(stats.ok());
  REQUIRE(stats->max_delta_depth == 3);

  std::vector<uint8_t> back(steps.back().size());
  const uint64_t before = counting->gets();
  REQUIRE(store->LoadEntry("run@4", "w", back.data(), back.size()).ok());
  const uint64_t gets = counting->gets() - before;
  CHECK(back == steps.back());
  // One read per chunk and level was 3 * kChunks.
  INFO(gets << " reads for " << kChunks << " chunks of 3 levels");
  CHECK(gets < kChunks / 10);

  counting->CorruptGetsOf("packs/");
  CHECK(store->LoadEntry("run@4", "w", back.data(), back.size()).code() == Code::kCorruption);
}

TEST_CASE("a load over many ranges fails cleanly when a read fails", "[integration]") {
  TempDir dir;
  auto counting = std::make_shared<FaultInjectingBackend>(NewLocalBackend(dir.path()));
  StoreOptions options;
  options.backend = counting;
  options.chunk_size = kChunk;
  options.threads = 8;
  options.pack_target_size = 64 << 10;  // many packs: many ranges, fetched ahead of decoding
  auto store = MustOpen(dir.path(), options);
  auto first = Weights(1);
  REQUIRE(SaveWeights(*store, 1, first).ok());
  auto second = first;
  for (size_t i = 0; i < second.size(); i += 64) second[i] ^= 1;
  REQUIRE(SaveWeights(*store, 2, second).ok());

  std::vector<uint8_t> back(second.size());
  const uint64_t before = counting->gets();
  REQUIRE(store->LoadEntry("run@2", "w", back.data(), back.size()).ok());
  CHECK(back == second);
  const uint64_t gets = counting->gets() - before;
  // Whichever read fails, the load reports it and returns: no fetch waits
  // for room that a batch never decoded would have freed.
  for (uint64_t n : {uint64_t{1}, gets / 2, gets}) {
    INFO("read " << n << " of " << gets << " fails");
    counting->FailGetAt(n);
    CHECK(store->LoadEntry("run@2", "w", back.data(), back.size()).code() == Code::kIOError);
    counting->Clear();
  }
  REQUIRE(store->LoadEntry("run@2", "w", back.data(), back.size()).ok());
  CHECK(back == second);
}
