// bench/gen/scenarios.h: the five checkpoint series the benchmark stores.
//
// Each scenario trains a small model for real (forward, backward, Adam) and
// emits a checkpoint after every interval of steps:
//   finetune   full fine-tune, f32 weights + Adam moments, all moving a little
//   dense      dense training at twice the size: every tensor and both
//              moments moving far (pretraining learning rate)
//   frozen     frozen f32 backbone (~90% of bytes, unchanged) + trained head
//   embedding  embedding table with ~1% of rows updated per interval by lazy
//              (sparse) Adam, plus a small dense MLP
//   bf16       bf16 weights only (trained in f32, exported rounded), all moving
// Model widths are derived from the target checkpoint size.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "nn.h"
#include "safetensors_writer.h"

namespace ckpt_bench {

struct GenConfig {
  uint64_t target_bytes = 200ull << 20;  // per checkpoint, approximately
  int checkpoints = 6;
  int steps = 4;   // optimizer steps per interval (and before the first checkpoint)
  int batch = 16;  // samples per step (the embedding scenario uses 4x)
  uint64_t seed = 1;
  const Parallel* par = nullptr;
};

// One checkpoint: metadata and tensors sorted by name, borrowing the model's
// memory until the emit callback returns.
struct Checkpoint {
  std::map<std::string, std::string> metadata;
  std::vector<OutTensor> tensors;
};

// Called once per checkpoint with its 1-based index; returning false stops.
using EmitFn = std::function<bool(int index, const Checkpoint& ckpt)>;

struct Scenario {
  const char* name;
  const char* summary;
  bool (*run)(const GenConfig& config, const EmitFn& emit);
};

const std::vector<Scenario>& AllScenarios();

}  // namespace ckpt_bench
