// adam.h: the Adam optimizer, dense and lazy (row-sparse).
#pragma once

#include <cstdint>
#include <vector>

#include "model.h"

namespace demo {

struct AdamConfig {
  float lr = 1e-3f;
  float beta1 = 0.9f;
  float beta2 = 0.999f;
  float eps = 1e-8f;
};

// Updates every element of `param` from its gradient; `step` counts from 1
// and sets the bias correction.
void AdamStep(const AdamConfig& config, int64_t step, Param* param);

// Lazy Adam (TensorFlow's LazyAdam, PyTorch's SparseAdam): updates only the
// listed rows of a 2-D `param`, leaving the other rows' values and moments
// untouched. Besides saving work, this is what keeps the rows, and so the
// stored chunks, of rarely seen items unchanged between checkpoints.
void LazyAdamRows(const AdamConfig& config, int64_t step, const std::vector<int32_t>& rows,
                  Param* param);

}  // namespace demo
