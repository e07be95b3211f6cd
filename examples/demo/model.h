// model.h: the demo network, its parameters and a hand-written backward pass.
//
//   items (8 ids) -> embedding 4096x64, mean-pooled   (trained, sparse rows)
//                 -> backbone 64->128, tanh          (frozen, never updated)
//                 -> head.0 128->128, ReLU, dropout  (trained)
//                 -> head.2 128->16 logits           (trained)
//                 -> softmax cross-entropy
//
// Weights are stored [out, in], row-major, as PyTorch's nn.Linear does, so
// the checkpoint's tensors have the shapes a PyTorch user would expect.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "data_stream.h"
#include "rng.h"

namespace demo {

// A named parameter with its gradient and Adam moments ("exp_avg" and
// "exp_avg_sq", PyTorch's names); frozen parameters have none of those.
struct Param {
  std::string name;
  std::vector<int64_t> shape;
  bool trainable = true;
  std::vector<float> value;
  std::vector<float> grad;
  std::vector<float> exp_avg;
  std::vector<float> exp_avg_sq;
};

struct ModelConfig {
  int vocab = 4096;
  int embed_dim = 64;
  int backbone_dim = 128;
  int hidden_dim = 128;
  int classes = 16;
  float dropout = 0.1f;
};

// Sums over one batch.
struct BatchResult {
  double loss_sum = 0;
  int correct = 0;
};

class Model {
 public:
  Model(const ModelConfig& config, uint64_t init_seed);

  // Runs forward and backward over `batch`, accumulating the gradient of the
  // mean loss into the trainable parameters. Only the embedding rows listed
  // in touched_rows() get gradient. Dropout masks come from `rng`.
  BatchResult ForwardBackward(const std::vector<Example>& batch, Rng& rng);

  // Zeroes all gradients and forgets the touched rows.
  void ZeroGrad();

  // Embedding rows the last ForwardBackward touched, ascending.
  const std::vector<int32_t>& touched_rows() const { return touched_rows_; }

  // All parameters in checkpoint order.
  std::vector<Param*> params();
  std::vector<const Param*> params() const;

  // The parameter called `name`, or null.
  const Param* Find(const std::string& name) const;

  Param& embedding() { return embedding_; }

 private:
  ModelConfig config_;
  Param embedding_, backbone_w_, backbone_b_, head0_w_, head0_b_, head2_w_, head2_b_;
  std::vector<int32_t> touched_rows_;
  std::vector<uint8_t> row_touched_;  // per embedding row, to build touched_rows_
};

}  // namespace demo
