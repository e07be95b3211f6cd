#include "trainer.h"

namespace demo {

Trainer::Trainer(const TrainerConfig& config, uint64_t init_seed)
    : config_(config),
      model_(config.model, init_seed),
      data_(config.data),
      rng_(init_seed ^ 0x5eed0fd20u) {}

BatchResult Trainer::Step() {
  data_.NextBatch(config_.batch_size, &batch_);
  model_.ZeroGrad();
  const BatchResult result = model_.ForwardBackward(batch_, rng_);
  ++step_;
  for (Param* p : model_.params()) {
    if (!p->trainable) continue;
    if (p == &model_.embedding()) {
      LazyAdamRows(config_.embedding_adam, step_, model_.touched_rows(), p);
    } else {
      AdamStep(config_.head_adam, step_, p);
    }
  }
  return result;
}

}  // namespace demo
