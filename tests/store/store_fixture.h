// Deterministic checkpoint contents for the reliability tests: the state at
// each step is a pure function of the step, so a test can regenerate what
// any committed checkpoint must load back as.
#pragma once

#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "ckpt/ckpt.h"
#include "test_util.h"

namespace ckpt::test {

// A small "model": a weight matrix whose chunk (step % 8) changes at each
// step, an embedding table with one row rewritten per step, and an RNG blob.
struct StepState {
  std::vector<uint8_t> weights;    // F32, 256 Ki elements
  std::vector<uint8_t> embedding;  // BF16, 64 x 2048
  std::vector<uint8_t> rng;

  // `base` seeds the bytes that stay the same from step to step.
  explicit StepState(uint64_t step, uint64_t base = 7) {
    weights = RandomBytes(1 << 20, base);
    auto region = RandomBytes(64 * 1024, 1000 + step);
    std::memcpy(weights.data() + (step % 8) * 128 * 1024, region.data(), region.size());
    embedding = RandomBytes(64 * 2048 * 2, base + 1);
    auto row = RandomBytes(4096, 2000 + step);
    std::memcpy(embedding.data() + (step % 64) * 4096, row.data(), row.size());
    rng = RandomBytes(32, 3000 + step);
  }

  SaveRequest Request(const std::string& run, uint64_t step) const {
    SaveRequest r;
    r.run = run;
    r.step = step;
    r.tensors.push_back({"weights", DType::kF32, {512, 512}, weights.data(), weights.size()});
    r.tensors.push_back(
        {"embedding", DType::kBF16, {64, 2048}, embedding.data(), embedding.size()});
    r.blobs.push_back({"rng", rng.data(), rng.size()});
    r.meta.metrics["loss"] = 1.0 / static_cast<double>(step + 1);
    return r;
  }

  // True if `loaded` holds exactly this state.
  bool Matches(const LoadedCheckpoint& loaded) const {
    return loaded.tensors.size() == 2 && loaded.blobs.size() == 1 &&
           loaded.tensors[0].data == weights && loaded.tensors[1].data == embedding &&
           loaded.blobs[0].data == rng;
  }
};

inline std::unique_ptr<Store> MustOpen(const std::string& dir, StoreOptions options = {}) {
  options.create_if_missing = true;
  if (options.chunk_size == StoreOptions().chunk_size) options.chunk_size = 64 * 1024;
  auto store = Store::Open(options, dir);
  if (!store.ok()) throw std::runtime_error(store.status().ToString());
  return std::move(store).value();
}

}  // namespace ckpt::test

namespace ckpt::test {

// Options for a verify that reads and hashes every chunk.
inline VerifyOptions ReadAllData() {
  VerifyOptions options;
  options.read_data = true;
  return options;
}

}  // namespace ckpt::test
