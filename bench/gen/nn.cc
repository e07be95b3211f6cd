#include "nn.h"

#include <algorithm>
#include <cmath>
#include <thread>

namespace ckpt_bench {

void Parallel::For(const std::function<void(int part)>& fn) const {
  const int n = std::min(threads_, kParts);
  if (n == 1) {
    for (int p = 0; p < kParts; ++p) fn(p);
    return;
  }
  std::vector<std::thread> workers;
  for (int w = 0; w < n; ++w) {
    workers.emplace_back([&, w] {
      for (int p = w; p < kParts; p += n) fn(p);
    });
  }
  for (auto& t : workers) t.join();
}

void AdamStep(float* w, float* m, float* v, const float* g, size_t n, const AdamConfig& c,
              int64_t t) {
  const double td = static_cast<double>(t);
  const float bc1 = static_cast<float>(1.0 - std::pow(static_cast<double>(c.beta1), td));
  const float bc2_sqrt =
      static_cast<float>(std::sqrt(1.0 - std::pow(static_cast<double>(c.beta2), td)));
  const float step_size = c.lr / bc1;
  const float decay = 1.0f - c.lr * c.weight_decay;
  const float b1 = c.beta1, b2 = c.beta2, eps = c.eps;
  for (size_t i = 0; i < n; ++i) {
    const float gi = g[i];
    const float mi = b1 * m[i] + (1.0f - b1) * gi;
    const float vi = b2 * v[i] + (1.0f - b2) * gi * gi;
    m[i] = mi;
    v[i] = vi;
    const float denom = std::sqrt(vi) / bc2_sqrt + eps;
    w[i] = w[i] * decay - step_size * (mi / denom);
  }
}

Linear::Linear(const std::string& name, int in, int out, double init_std, bool trainable, Rng& rng)
    : in_(in), out_(out) {
  weight_.name = name + ".weight";
  weight_.shape = {out, in};
  weight_.w.resize(static_cast<size_t>(in) * out);
  rng.FillNormal(weight_.w.data(), weight_.w.size(), init_std);
  bias_.name = name + ".bias";
  bias_.shape = {out};
  bias_.w.resize(out);
  rng.FillNormal(bias_.w.data(), bias_.w.size(), init_std * 0.1);
  if (trainable) {
    for (Param* p : {&weight_, &bias_}) {
      p->m.assign(p->w.size(), 0.0f);
      p->v.assign(p->w.size(), 0.0f);
    }
  }
}

void Linear::Forward(const float* xt, int batch, float* zt, const Parallel& par) const {
  const size_t in = in_, out = out_, b = batch;
  par.For([&](int part) {
    std::vector<float> acc(b);
    for (size_t o = Parallel::Begin(out, part); o < Parallel::Begin(out, part + 1); ++o) {
      std::fill(acc.begin(), acc.end(), bias_.w[o]);
      const float* row = &weight_.w[o * in];
      for (size_t i = 0; i < in; ++i) {
        const float wi = row[i];
        const float* x = xt + i * b;
        for (size_t k = 0; k < b; ++k) acc[k] += wi * x[k];
      }
      std::copy(acc.begin(), acc.end(), zt + o * b);
    }
  });
}

void Linear::Backward(const float* xt, const float* dzt, int batch, float* dxt,
                      const AdamConfig& adam, int64_t t, const Parallel& par) {
  const size_t in = in_, out = out_, b = batch;
  const bool train = weight_.trainable();
  // x in batch-major layout, so a gradient row is a sum of scaled input rows.
  std::vector<float> x(b * in);
  for (size_t i = 0; i < in; ++i)
    for (size_t k = 0; k < b; ++k) x[k * in + i] = xt[i * b + k];

  std::vector<std::vector<float>> partial_dxt(dxt ? Parallel::kParts : 0);
  par.For([&](int part) {
    float* pdx = nullptr;
    if (dxt) {
      partial_dxt[part].assign(in * b, 0.0f);
      pdx = partial_dxt[part].data();
    }
    std::vector<float> grow(train ? in : 0);
    for (size_t o = Parallel::Begin(out, part); o < Parallel::Begin(out, part + 1); ++o) {
      float* row = &weight_.w[o * in];
      const float* dz = dzt + o * b;
      if (pdx) {
        for (size_t i = 0; i < in; ++i) {
          const float wi = row[i];
          float* d = pdx + i * b;
          for (size_t k = 0; k < b; ++k) d[k] += wi * dz[k];
        }
      }
      if (!train) continue;
      std::fill(grow.begin(), grow.end(), 0.0f);
      float gb = 0;
      for (size_t k = 0; k < b; ++k) {
        const float dk = dz[k];
        gb += dk;
        const float* xk = &x[k * in];
        for (size_t i = 0; i < in; ++i) grow[i] += dk * xk[i];
      }
      AdamStep(row, &weight_.m[o * in], &weight_.v[o * in], grow.data(), in, adam, t);
      AdamStep(&bias_.w[o], &bias_.m[o], &bias_.v[o], &gb, 1, adam, t);
    }
  });
  if (!dxt) return;
  par.For([&](int part) {
    const size_t n = in * b;
    for (size_t j = Parallel::Begin(n, part); j < Parallel::Begin(n, part + 1); ++j) {
      float s = 0;
      for (int p = 0; p < Parallel::kParts; ++p) s += partial_dxt[p][j];
      dxt[j] = s;
    }
  });
}

ResidualMlp::ResidualMlp(int d, int blocks, int out, double init_std, bool train_blocks,
                         bool train_head, Rng& rng)
    : d_(d), train_blocks_(train_blocks), head_("head", d, out, init_std, train_head, rng) {
  for (int i = 0; i < blocks; ++i) {
    const std::string name = "blocks." + std::to_string(i);
    fc1_.emplace_back(name + ".fc1", d, 2 * d, init_std, train_blocks, rng);
    fc2_.emplace_back(name + ".fc2", 2 * d, d, init_std, train_blocks, rng);
  }
}

double ResidualMlp::TrainStep(const float* xt, const float* target_t, int batch,
                              const AdamConfig& blocks_adam, const AdamConfig& head_adam, int64_t t,
                              const Parallel& par) {
  const size_t b = batch, d = d_, blocks = fc1_.size();
  // h[i] is the residual stream entering block i; a[i] the block's tanh output.
  std::vector<std::vector<float>> h(blocks + 1, std::vector<float>(d * b));
  std::vector<std::vector<float>> a(blocks, std::vector<float>(2 * d * b));
  std::copy(xt, xt + d * b, h[0].begin());
  std::vector<float> tmp(d * b);
  for (size_t i = 0; i < blocks; ++i) {
    fc1_[i].Forward(h[i].data(), batch, a[i].data(), par);
    for (float& z : a[i]) z = std::tanh(z);
    fc2_[i].Forward(a[i].data(), batch, tmp.data(), par);
    for (size_t j = 0; j < d * b; ++j) h[i + 1][j] = h[i][j] + tmp[j];
  }
  const size_t out = head_.out();
  std::vector<float> dy(out * b);
  head_.Forward(h[blocks].data(), batch, dy.data(), par);
  double loss = 0;
  for (size_t j = 0; j < out * b; ++j) {
    const float e = dy[j] - target_t[j];
    loss += 0.5 * e * e;
    dy[j] = e / static_cast<float>(b);
  }
  loss /= static_cast<double>(b);

  std::vector<float> dh(train_blocks_ ? d * b : 0);
  head_.Backward(h[blocks].data(), dy.data(), batch, train_blocks_ ? dh.data() : nullptr, head_adam,
                 t, par);
  if (!train_blocks_) return loss;
  std::vector<float> da(2 * d * b);
  for (size_t i = blocks; i-- > 0;) {
    fc2_[i].Backward(a[i].data(), dh.data(), batch, da.data(), blocks_adam, t, par);
    for (size_t j = 0; j < da.size(); ++j) da[j] *= 1.0f - a[i][j] * a[i][j];
    fc1_[i].Backward(h[i].data(), da.data(), batch, tmp.data(), blocks_adam, t, par);
    for (size_t j = 0; j < d * b; ++j) dh[j] += tmp[j];
  }
  return loss;
}

std::vector<Param*> ResidualMlp::Params() {
  std::vector<Param*> out;
  for (size_t i = 0; i < fc1_.size(); ++i) {
    out.push_back(&fc1_[i].weight());
    out.push_back(&fc1_[i].bias());
    out.push_back(&fc2_[i].weight());
    out.push_back(&fc2_[i].bias());
  }
  out.push_back(&head_.weight());
  out.push_back(&head_.bias());
  return out;
}

void AppendParam(const Param& p, std::vector<FloatTensor>* out) {
  out->push_back({p.name, p.shape, p.w.data(), p.w.size()});
  if (!p.trainable()) return;
  out->push_back({"optimizer.exp_avg." + p.name, p.shape, p.m.data(), p.m.size()});
  out->push_back({"optimizer.exp_avg_sq." + p.name, p.shape, p.v.data(), p.v.size()});
}

}  // namespace ckpt_bench
