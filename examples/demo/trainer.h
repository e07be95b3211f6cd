// trainer.h: one training process: model, optimizer, data and dropout RNG.
#pragma once

#include <cstdint>
#include <vector>

#include "adam.h"
#include "data_stream.h"
#include "model.h"
#include "rng.h"

namespace demo {

struct TrainerConfig {
  DataConfig data;
  ModelConfig model;
  int batch_size = 32;
  AdamConfig head_adam{.lr = 2e-3f};
  // Embedding rows see few updates each, so they get a larger step.
  AdamConfig embedding_adam{.lr = 3e-2f};
};

class Trainer {
 public:
  // `init_seed` draws the initial weights and seeds the dropout RNG.
  Trainer(const TrainerConfig& config, uint64_t init_seed);

  // Trains on the next batch; returns its summed loss and correct count,
  // measured before the update, so on examples the model has not seen yet.
  BatchResult Step();

  // Optimizer steps taken so far.
  int64_t step() const { return step_; }
  void set_step(int64_t step) { step_ = step; }

  const TrainerConfig& config() const { return config_; }
  Model& model() { return model_; }
  const Model& model() const { return model_; }
  DataStream& data() { return data_; }
  const DataStream& data() const { return data_; }
  Rng& rng() { return rng_; }
  const Rng& rng() const { return rng_; }

 private:
  TrainerConfig config_;
  Model model_;
  DataStream data_;
  Rng rng_;
  int64_t step_ = 0;
  std::vector<Example> batch_;
};

}  // namespace demo
