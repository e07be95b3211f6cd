#include "model.h"

#include <algorithm>
#include <cmath>

namespace demo {
namespace {

Param MakeParam(std::string name, std::vector<int64_t> shape, bool trainable, float stddev,
                Rng& rng) {
  Param p;
  p.name = std::move(name);
  p.shape = std::move(shape);
  p.trainable = trainable;
  size_t n = 1;
  for (int64_t d : p.shape) n *= static_cast<size_t>(d);
  p.value.resize(n);
  for (float& v : p.value) v = stddev == 0 ? 0.0f : stddev * rng.Normal();
  if (trainable) {
    p.grad.assign(n, 0.0f);
    p.exp_avg.assign(n, 0.0f);
    p.exp_avg_sq.assign(n, 0.0f);
  }
  return p;
}

// y[o] = b[o] + sum_i w[o, i] x[i].
void Linear(const Param& w, const Param& b, const float* x, float* y) {
  const size_t out = b.value.size(), in = w.value.size() / out;
  for (size_t o = 0; o < out; ++o) {
    const float* row = &w.value[o * in];
    float acc = b.value[o];
    for (size_t i = 0; i < in; ++i) acc += row[i] * x[i];
    y[o] = acc;
  }
}

// Given dy, accumulates dW += dy x^T and db += dy (when trainable) and
// returns dx = W^T dy.
void LinearBackward(Param& w, Param& b, const float* x, const float* dy, float* dx) {
  const size_t out = b.value.size(), in = w.value.size() / out;
  std::fill(dx, dx + in, 0.0f);
  for (size_t o = 0; o < out; ++o) {
    const float* row = &w.value[o * in];
    for (size_t i = 0; i < in; ++i) dx[i] += row[i] * dy[o];
    if (!w.trainable) continue;
    float* grow = &w.grad[o * in];
    for (size_t i = 0; i < in; ++i) grow[i] += dy[o] * x[i];
    b.grad[o] += dy[o];
  }
}

}  // namespace

Model::Model(const ModelConfig& c, uint64_t init_seed) : config_(c) {
  Rng rng(init_seed);
  const float he0 = std::sqrt(2.0f / c.backbone_dim), he2 = std::sqrt(1.0f / c.hidden_dim);
  embedding_ = MakeParam("embedding.weight", {c.vocab, c.embed_dim}, true, 0.1f, rng);
  // A fixed random projection stands in for a pretrained, frozen backbone.
  backbone_w_ = MakeParam("backbone.weight", {c.backbone_dim, c.embed_dim}, false,
                          1.0f / std::sqrt(static_cast<float>(c.embed_dim)), rng);
  backbone_b_ = MakeParam("backbone.bias", {c.backbone_dim}, false, 0.1f, rng);
  head0_w_ = MakeParam("head.0.weight", {c.hidden_dim, c.backbone_dim}, true, he0, rng);
  head0_b_ = MakeParam("head.0.bias", {c.hidden_dim}, true, 0.0f, rng);
  head2_w_ = MakeParam("head.2.weight", {c.classes, c.hidden_dim}, true, he2, rng);
  head2_b_ = MakeParam("head.2.bias", {c.classes}, true, 0.0f, rng);
  row_touched_.assign(c.vocab, 0);
}

BatchResult Model::ForwardBackward(const std::vector<Example>& batch, Rng& rng) {
  const ModelConfig& c = config_;
  std::vector<float> x(c.embed_dim), h(c.backbone_dim), z1(c.hidden_dim), a1(c.hidden_dim);
  std::vector<float> keep(c.hidden_dim), logits(c.classes), dlogits(c.classes);
  std::vector<float> da1(c.hidden_dim), dh(c.backbone_dim), dx(c.embed_dim);
  const float inv_tokens = 1.0f / kTokensPerExample;
  const float inv_batch = 1.0f / static_cast<float>(batch.size());
  const float keep_scale = 1.0f / (1.0f - c.dropout);

  BatchResult result;
  for (const Example& ex : batch) {
    // Forward.
    std::fill(x.begin(), x.end(), 0.0f);
    for (int32_t t : ex.tokens) {
      const float* row = &embedding_.value[static_cast<size_t>(t) * c.embed_dim];
      for (int d = 0; d < c.embed_dim; ++d) x[d] += row[d] * inv_tokens;
    }
    Linear(backbone_w_, backbone_b_, x.data(), h.data());
    for (float& v : h) v = std::tanh(v);
    Linear(head0_w_, head0_b_, h.data(), z1.data());
    for (int j = 0; j < c.hidden_dim; ++j) {
      keep[j] = rng.Uniform() < c.dropout ? 0.0f : keep_scale;
      a1[j] = std::max(z1[j], 0.0f) * keep[j];
    }
    Linear(head2_w_, head2_b_, a1.data(), logits.data());

    // Softmax cross-entropy, shifted by the max logit for stability.
    const float max_logit = *std::max_element(logits.begin(), logits.end());
    double sum = 0;
    for (int k = 0; k < c.classes; ++k) sum += std::exp(static_cast<double>(logits[k] - max_logit));
    result.loss_sum += std::log(sum) - (logits[ex.label] - max_logit);
    const int predicted =
        static_cast<int>(std::max_element(logits.begin(), logits.end()) - logits.begin());
    if (predicted == ex.label) ++result.correct;

    // Backward; each example's loss is weighted 1/batch (mean loss).
    for (int k = 0; k < c.classes; ++k) {
      const float p =
          static_cast<float>(std::exp(static_cast<double>(logits[k] - max_logit)) / sum);
      dlogits[k] = (p - (k == ex.label ? 1.0f : 0.0f)) * inv_batch;
    }
    LinearBackward(head2_w_, head2_b_, a1.data(), dlogits.data(), da1.data());
    for (int j = 0; j < c.hidden_dim; ++j) da1[j] *= z1[j] > 0 ? keep[j] : 0.0f;
    LinearBackward(head0_w_, head0_b_, h.data(), da1.data(), dh.data());
    for (int i = 0; i < c.backbone_dim; ++i) dh[i] *= 1.0f - h[i] * h[i];
    // The backbone is frozen but gradient still flows through it.
    LinearBackward(backbone_w_, backbone_b_, x.data(), dh.data(), dx.data());
    for (int32_t t : ex.tokens) {
      float* grow = &embedding_.grad[static_cast<size_t>(t) * c.embed_dim];
      for (int d = 0; d < c.embed_dim; ++d) grow[d] += dx[d] * inv_tokens;
      if (!row_touched_[t]) {
        row_touched_[t] = 1;
        touched_rows_.push_back(t);
      }
    }
  }
  std::sort(touched_rows_.begin(), touched_rows_.end());
  return result;
}

void Model::ZeroGrad() {
  for (Param* p : params()) {
    // The embedding's gradient is nonzero only in touched rows; clearing just
    // those keeps a step's cost independent of the vocabulary size.
    if (p == &embedding_ || !p->trainable) continue;
    std::fill(p->grad.begin(), p->grad.end(), 0.0f);
  }
  for (int32_t t : touched_rows_) {
    std::fill_n(&embedding_.grad[static_cast<size_t>(t) * config_.embed_dim], config_.embed_dim,
                0.0f);
    row_touched_[t] = 0;
  }
  touched_rows_.clear();
}

std::vector<Param*> Model::params() {
  return {&embedding_, &backbone_w_, &backbone_b_, &head0_w_, &head0_b_, &head2_w_, &head2_b_};
}

std::vector<const Param*> Model::params() const {
  return {&embedding_, &backbone_w_, &backbone_b_, &head0_w_, &head0_b_, &head2_w_, &head2_b_};
}

const Param* Model::Find(const std::string& name) const {
  for (const Param* p : params()) {
    if (p->name == name) return p;
  }
  return nullptr;
}

}  // namespace demo
