#include "adam.h"

#include <cmath>

namespace demo {
namespace {

void UpdateRange(const AdamConfig& c, int64_t step, Param* p, size_t begin, size_t end) {
  // Folding the bias corrections into the step size, as torch.optim.Adam does.
  const double correction1 =
      1.0 - std::pow(static_cast<double>(c.beta1), static_cast<double>(step));
  const double correction2 =
      1.0 - std::pow(static_cast<double>(c.beta2), static_cast<double>(step));
  const float step_size = static_cast<float>(c.lr / correction1);
  const float sqrt_correction2 = static_cast<float>(std::sqrt(correction2));
  for (size_t i = begin; i < end; ++i) {
    const float g = p->grad[i];
    p->exp_avg[i] = c.beta1 * p->exp_avg[i] + (1.0f - c.beta1) * g;
    p->exp_avg_sq[i] = c.beta2 * p->exp_avg_sq[i] + (1.0f - c.beta2) * g * g;
    const float denom = std::sqrt(p->exp_avg_sq[i]) / sqrt_correction2 + c.eps;
    p->value[i] -= step_size * p->exp_avg[i] / denom;
  }
}

}  // namespace

void AdamStep(const AdamConfig& config, int64_t step, Param* param) {
  UpdateRange(config, step, param, 0, param->value.size());
}

void LazyAdamRows(const AdamConfig& config, int64_t step, const std::vector<int32_t>& rows,
                  Param* param) {
  const size_t width = static_cast<size_t>(param->shape[1]);
  for (int32_t row : rows) {
    const size_t begin = static_cast<size_t>(row) * width;
    UpdateRange(config, step, param, begin, begin + width);
  }
}

}  // namespace demo
