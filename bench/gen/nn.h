// bench/gen/nn.h: just enough neural network to train for real.
//
// Dense layers with genuine forward and backward passes and PyTorch's AdamW
// update, so the checkpoints carry the byte patterns real training leaves:
// every trained weight moves by about the learning rate each step (its low
// mantissa bits change, its exponent mostly stays), Adam's moments change
// everywhere, frozen tensors never change.
//
// Activations are stored transposed, features x batch ("T" suffix), so the
// inner loops run over the batch or a weight row and vectorize without
// reassociating sums. Work is split into a fixed number of partitions whose
// partial sums are added in a fixed order: the results do not depend on the
// number of threads.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "rng.h"

namespace ckpt_bench {

// Runs fn(part) for part in [0, kParts) on up to `threads` threads.
class Parallel {
 public:
  static constexpr int kParts = 8;
  explicit Parallel(int threads) : threads_(threads < 1 ? 1 : threads) {}
  void For(const std::function<void(int part)>& fn) const;
  // [begin, end) of partition `part` of n items.
  static size_t Begin(size_t n, int part) { return n * part / kParts; }

 private:
  int threads_;
};

struct AdamConfig {
  float lr = 1e-4f;
  float beta1 = 0.9f;
  float beta2 = 0.999f;
  float eps = 1e-8f;
  float weight_decay = 0.0f;  // decoupled (AdamW)
};

// One AdamW step (torch.optim.AdamW's arithmetic) on n elements; t is the
// 1-based step count used for bias correction.
void AdamStep(float* w, float* m, float* v, const float* g, size_t n, const AdamConfig& c,
              int64_t t);

// A parameter tensor and, if trained, its Adam moments.
struct Param {
  std::string name;
  std::vector<int64_t> shape;
  std::vector<float> w, m, v;  // m and v are empty for a frozen parameter
  bool trainable() const { return !m.empty(); }
};

// z = W x + b with W of shape [out, in].
class Linear {
 public:
  Linear(const std::string& name, int in, int out, double init_std, bool trainable, Rng& rng);

  // zt[out x batch] = W xt[in x batch] + b.
  void Forward(const float* xt, int batch, float* zt, const Parallel& par) const;
  // Given dL/dz (dzt), writes dL/dx into dxt (unless null) using the weights
  // before the update, then applies one Adam step if trainable.
  void Backward(const float* xt, const float* dzt, int batch, float* dxt, const AdamConfig& adam,
                int64_t t, const Parallel& par);

  int in() const { return in_; }
  int out() const { return out_; }
  Param& weight() { return weight_; }
  Param& bias() { return bias_; }

 private:
  int in_, out_;
  Param weight_, bias_;
};

// A residual MLP: blocks h += fc2(tanh(fc1(h))) with fc1: d -> 2d, then a
// linear head d -> out, trained on mean squared error.
class ResidualMlp {
 public:
  ResidualMlp(int d, int blocks, int out, double init_std, bool train_blocks, bool train_head,
              Rng& rng);

  // One training step on inputs xt [d x batch] and targets [out x batch].
  // Returns the loss before the update.
  double TrainStep(const float* xt, const float* target_t, int batch, const AdamConfig& blocks_adam,
                   const AdamConfig& head_adam, int64_t t, const Parallel& par);

  // Every parameter, blocks first, then the head.
  std::vector<Param*> Params();
  int d() const { return d_; }

 private:
  int d_;
  bool train_blocks_;
  std::vector<Linear> fc1_, fc2_;
  Linear head_;
};

// Adds `p` (and its Adam moments, if any) to `out` as (name, pointer, count)
// triples, naming the moments "optimizer.exp_avg.NAME" and
// "optimizer.exp_avg_sq.NAME" as a flattened PyTorch optimizer state would.
struct FloatTensor {
  std::string name;
  std::vector<int64_t> shape;
  const float* data;
  size_t count;
};
void AppendParam(const Param& p, std::vector<FloatTensor>* out);

}  // namespace ckpt_bench
