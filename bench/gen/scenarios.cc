#include "scenarios.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>

namespace ckpt_bench {
namespace {

constexpr int kBlocks = 4;  // residual blocks; a block holds 4*d*d weights

// Width d (a multiple of 64, at least 64) of a kBlocks-block residual MLP
// holding about `params` block weights.
int WidthFor(double params) {
  const double d = std::sqrt(params / (4.0 * kBlocks));
  return std::max(64, static_cast<int>(std::lround(d / 64.0)) * 64);
}

// Keeps the scalars and converted buffers a checkpoint points into alive.
struct Owned {
  std::vector<std::vector<uint16_t>> bf16;
  int64_t step = 0;
};

uint16_t ToBf16(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  if ((u & 0x7fffffffu) > 0x7f800000u) return 0x7fc0;                    // NaN
  return static_cast<uint16_t>((u + 0x7fffu + ((u >> 16) & 1u)) >> 16);  // round to nearest even
}

Checkpoint MakeCheckpoint(const char* scenario, int64_t step, const std::vector<FloatTensor>& fts,
                          bool as_bf16, bool with_step_tensor, Owned* owned) {
  Checkpoint c;
  c.metadata = {{"format", "pt"}, {"scenario", scenario}, {"step", std::to_string(step)}};
  owned->bf16.clear();
  owned->bf16.reserve(fts.size());
  for (const FloatTensor& t : fts) {
    if (as_bf16) {
      auto& buf = owned->bf16.emplace_back(t.count);
      for (size_t i = 0; i < t.count; ++i) buf[i] = ToBf16(t.data[i]);
      c.tensors.push_back({t.name, "BF16", t.shape, buf.data(), buf.size() * 2});
    } else {
      c.tensors.push_back({t.name, "F32", t.shape, t.data, t.count * 4});
    }
  }
  if (with_step_tensor) {
    owned->step = step;
    c.tensors.push_back({"optimizer.step", "I64", {}, &owned->step, 8});
  }
  std::sort(c.tensors.begin(), c.tensors.end(),
            [](const OutTensor& a, const OutTensor& b) { return a.name < b.name; });
  return c;
}

// Trains a ResidualMlp against a fixed random teacher y = tanh(T x) and emits
// a checkpoint after the warm-up and after every later interval.
bool RunMlpSeries(const char* name, const GenConfig& cfg, ResidualMlp& model, int out,
                  const AdamConfig& blocks_adam, const AdamConfig& head_adam, bool as_bf16,
                  bool with_optimizer, uint64_t seed, const EmitFn& emit) {
  Rng rng(MixSeed(seed, 1));
  const size_t d = model.d(), b = cfg.batch;
  std::vector<float> teacher(out * d);
  rng.FillNormal(teacher.data(), teacher.size(), 1.0 / std::sqrt(static_cast<double>(d)));
  std::vector<float> xt(d * b), target(out * b);
  int64_t t = 0;
  for (int k = 1; k <= cfg.checkpoints; ++k) {
    double loss = 0;
    for (int s = 0; s < cfg.steps; ++s) {
      rng.FillNormal(xt.data(), xt.size(), 1.0);
      for (int o = 0; o < out; ++o) {
        for (size_t j = 0; j < b; ++j) {
          double acc = 0;
          for (size_t i = 0; i < d; ++i) acc += teacher[o * d + i] * xt[i * b + j];
          target[o * b + j] = static_cast<float>(std::tanh(acc));
        }
      }
      loss = model.TrainStep(xt.data(), target.data(), cfg.batch, blocks_adam, head_adam, ++t,
                             *cfg.par);
    }
    std::vector<FloatTensor> fts;
    for (Param* p : model.Params()) {
      if (with_optimizer) {
        AppendParam(*p, &fts);
      } else {
        fts.push_back({p->name, p->shape, p->w.data(), p->w.size()});
      }
    }
    Owned owned;
    Checkpoint c = MakeCheckpoint(name, t, fts, as_bf16, with_optimizer, &owned);
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.6g", loss);
    c.metadata["loss"] = buf;
    if (!emit(k, c)) return false;
  }
  return true;
}

bool RunFinetune(const GenConfig& cfg, const EmitFn& emit) {
  // Weights, exp_avg and exp_avg_sq: 12 bytes per parameter.
  const int d = WidthFor(cfg.target_bytes / 12.0);
  Rng rng(MixSeed(cfg.seed, 101));
  ResidualMlp model(d, kBlocks, 64, 0.02, true, true, rng);
  AdamConfig adam;
  adam.lr = 2e-5f;
  adam.weight_decay = 0.01f;
  return RunMlpSeries("finetune", cfg, model, 64, adam, adam, false, true, MixSeed(cfg.seed, 102),
                      emit);
}

// A fully dense run, as a pretraining or full fine-tune of a GPT-sized model
// leaves it: every tensor and both Adam moments change in every interval,
// and the weights move far enough that deltas against the parent save
// little. Against `finetune` (lr 2e-5, 4 steps per interval, weights move
// ~1e-3 of their size) it takes a pretraining learning rate with GPT's Adam
// betas and 4x the steps, so a weight moves by about 5% of its size per
// interval; its checkpoint is twice the common target (~400 MB at the
// default: weights and moments of a 34M-parameter model).
bool RunDense(const GenConfig& cfg, const EmitFn& emit) {
  GenConfig dense = cfg;
  dense.target_bytes = 2 * cfg.target_bytes;
  dense.steps = 4 * cfg.steps;
  const int d = WidthFor(dense.target_bytes / 12.0);
  Rng rng(MixSeed(cfg.seed, 501));
  ResidualMlp model(d, kBlocks, 64, 0.02, true, true, rng);
  AdamConfig adam;
  adam.lr = 3e-4f;
  adam.beta2 = 0.95f;
  adam.weight_decay = 0.1f;
  return RunMlpSeries("dense", dense, model, 64, adam, adam, false, true, MixSeed(cfg.seed, 502),
                      emit);
}

bool RunFrozen(const GenConfig& cfg, const EmitFn& emit) {
  // ~90% of the bytes: frozen f32 backbone; ~10%: head weights + Adam moments.
  const int d = WidthFor(0.9 * cfg.target_bytes / 4.0);
  const int classes = std::max(16, static_cast<int>(0.1 * cfg.target_bytes / 12.0 / d));
  Rng rng(MixSeed(cfg.seed, 201));
  ResidualMlp model(d, kBlocks, classes, 0.02, false, true, rng);
  AdamConfig adam;
  adam.lr = 1e-4f;
  return RunMlpSeries("frozen", cfg, model, classes, adam, adam, false, true,
                      MixSeed(cfg.seed, 202), emit);
}

bool RunBf16(const GenConfig& cfg, const EmitFn& emit) {
  // 2 bytes per parameter; f32 master weights and Adam stay in memory.
  const int d = WidthFor(cfg.target_bytes / 2.0);
  Rng rng(MixSeed(cfg.seed, 401));
  ResidualMlp model(d, kBlocks, 64, 0.02, true, true, rng);
  AdamConfig adam;
  adam.lr = 1e-4f;
  adam.weight_decay = 0.1f;
  return RunMlpSeries("bf16", cfg, model, 64, adam, adam, true, false, MixSeed(cfg.seed, 402),
                      emit);
}

bool RunEmbedding(const GenConfig& cfg, const EmitFn& emit);

}  // namespace

const std::vector<Scenario>& AllScenarios() {
  static const std::vector<Scenario> kScenarios = {
      {"finetune", "full fine-tune: f32 weights + Adam moments, every weight moves", RunFinetune},
      {"dense",
       "dense training, twice the size: f32 weights + Adam moments, all moving ~5% per interval",
       RunDense},
      {"frozen", "frozen f32 backbone (~90% of bytes) + trained head with Adam", RunFrozen},
      {"embedding", "embedding table, ~1% of rows per interval (lazy Adam) + small dense MLP",
       RunEmbedding},
      {"bf16", "bf16 weights only, every weight moves", RunBf16},
  };
  return kScenarios;
}

namespace {

// A bag-of-ids regression model: the mean of K embedding rows feeds a dense
// MLP D -> h -> h/2 -> 1. Ids follow a Zipf law over a hashed (randomly
// permuted) id space, as in recommender and hashed-vocabulary tables. Only
// rows looked up in a step get gradients and Adam updates (lazy Adam, as
// torch.optim.SparseAdam), so untouched rows keep their bytes exactly.
bool RunEmbedding(const GenConfig& cfg, const EmitFn& emit) {
  constexpr int kDim = 256, kBag = 8;
  constexpr double kHistoryGradStd = 1e-4;  // the real row gradients span 1e-5..1e-3
  const Parallel& par = *cfg.par;
  Rng rng(MixSeed(cfg.seed, 301));
  // The dense part (weights + Adam) is ~1.5% of the bytes: h = 512 at 200 MB.
  // Its parameters number about kDim*h + h*h/2.
  const double dense_params = 0.015 * cfg.target_bytes / 12.0;
  const double h_exact = -kDim + std::sqrt(double{kDim} * kDim + 2.0 * dense_params);
  const int h = std::max(32, static_cast<int>(std::lround(h_exact / 32.0)) * 32);
  Linear l1("dense.0", kDim, h, 0.02, true, rng);
  Linear l2("dense.1", h, h / 2, 0.02, true, rng);
  Linear l3("dense.2", h / 2, 1, 0.02, true, rng);
  const double dense_bytes = 12.0 * (kDim * h + h + h * h / 2 + h / 2 + h / 2 + 1);
  const size_t rows =
      std::max<size_t>(1024, static_cast<size_t>((cfg.target_bytes - dense_bytes) / (12.0 * kDim)));

  Param table;
  table.name = "embedding.weight";
  table.shape = {static_cast<int64_t>(rows), kDim};
  table.w.resize(rows * kDim);
  rng.FillNormal(table.w.data(), table.w.size(), 0.02);
  table.m.assign(table.w.size(), 0.0f);
  table.v.assign(table.w.size(), 0.0f);
  std::vector<uint32_t> perm(rows);
  for (size_t i = 0; i < rows; ++i) perm[i] = static_cast<uint32_t>(i);
  for (size_t i = rows - 1; i > 0; --i) std::swap(perm[i], perm[rng.Below(i + 1)]);
  std::vector<float> teacher(rows);
  rng.FillNormal(teacher.data(), rows, 1.0);
  const Zipf zipf(rows, 1.05);

  AdamConfig dense_adam, sparse_adam;
  dense_adam.lr = 1e-3f;
  sparse_adam.lr = 1e-3f;
  // Each interval runs steps until ~1% of the rows were looked up; batches
  // are small enough that an interval takes several steps and stops near 1%.
  const size_t target_rows = std::max<size_t>(1, rows / 100);
  const size_t b = std::clamp<size_t>(target_rows / (4 * kBag), 1, 4 * cfg.batch);
  std::vector<uint32_t> ids(b * kBag);
  std::vector<float> h0(kDim * b), a1(h * b), a2(h / 2 * b), y(b), dh0(kDim * b), da1(h * b),
      da2(h / 2 * b);
  std::vector<uint8_t> touched(rows);
  std::vector<int> row_slot(rows, -1);
  std::vector<uint32_t> step_rows;
  int64_t t = 0, t_dense = 0;  // sparse (table) and dense optimizer steps

  // The run is resumed mid-training: first replay a history of ~20 lookups
  // per row (same Zipf ids, 4096 per step) with lazy Adam on synthetic
  // gradients, so that hot rows and many tail rows carry Adam state and have
  // drifted from their initial values, as in a table that has trained a while.
  {
    constexpr size_t kDrawsPerStep = 4096;
    const size_t history_steps = std::max<size_t>(1, 20 * rows / kDrawsPerStep);
    std::vector<float> g(kDim);
    for (size_t s = 0; s < history_steps; ++s) {
      ++t;
      step_rows.clear();
      for (size_t q = 0; q < kDrawsPerStep; ++q) {
        const uint32_t id = perm[zipf.Sample(rng)];
        if (row_slot[id] < 0) {
          row_slot[id] = 0;
          step_rows.push_back(id);
        }
      }
      for (uint32_t id : step_rows) {
        rng.FillNormal(g.data(), kDim, kHistoryGradStd);
        const size_t off = id * size_t{kDim};
        AdamStep(&table.w[off], &table.m[off], &table.v[off], g.data(), kDim, sparse_adam, t);
        row_slot[id] = -1;
      }
    }
  }
  for (int k = 1; k <= cfg.checkpoints; ++k) {
    std::fill(touched.begin(), touched.end(), 0);
    size_t distinct = 0;
    double loss = 0;
    while (distinct < target_rows) {
      ++t;
      ++t_dense;
      std::vector<float> target(b, 0.0f);
      for (size_t j = 0; j < b; ++j) {
        for (int q = 0; q < kBag; ++q) {
          const uint32_t id = perm[zipf.Sample(rng)];
          ids[j * kBag + q] = id;
          target[j] += teacher[id] / kBag;
        }
      }
      std::fill(h0.begin(), h0.end(), 0.0f);
      for (size_t j = 0; j < b; ++j)
        for (int q = 0; q < kBag; ++q)
          for (int e = 0; e < kDim; ++e)
            h0[e * b + j] += table.w[ids[j * kBag + q] * size_t{kDim} + e] / kBag;
      l1.Forward(h0.data(), static_cast<int>(b), a1.data(), par);
      for (float& z : a1) z = std::tanh(z);
      l2.Forward(a1.data(), static_cast<int>(b), a2.data(), par);
      for (float& z : a2) z = std::tanh(z);
      l3.Forward(a2.data(), static_cast<int>(b), y.data(), par);
      loss = 0;
      for (size_t j = 0; j < b; ++j) {
        const float err = y[j] - target[j];
        loss += 0.5 * err * err / b;
        y[j] = err / b;
      }
      l3.Backward(a2.data(), y.data(), static_cast<int>(b), da2.data(), dense_adam, t_dense, par);
      for (size_t j = 0; j < da2.size(); ++j) da2[j] *= 1.0f - a2[j] * a2[j];
      l2.Backward(a1.data(), da2.data(), static_cast<int>(b), da1.data(), dense_adam, t_dense, par);
      for (size_t j = 0; j < da1.size(); ++j) da1[j] *= 1.0f - a1[j] * a1[j];
      l1.Backward(h0.data(), da1.data(), static_cast<int>(b), dh0.data(), dense_adam, t_dense, par);

      // Sum each looked-up row's gradient, rows in first-seen order.
      step_rows.clear();
      std::vector<float> row_grads;
      for (size_t j = 0; j < b; ++j) {
        for (int q = 0; q < kBag; ++q) {
          const uint32_t id = ids[j * kBag + q];
          if (row_slot[id] < 0) {
            row_slot[id] = static_cast<int>(step_rows.size());
            step_rows.push_back(id);
            row_grads.resize(row_grads.size() + kDim, 0.0f);
          }
          float* g = &row_grads[row_slot[id] * size_t{kDim}];
          for (int e = 0; e < kDim; ++e) g[e] += dh0[e * b + j] / kBag;
        }
      }
      for (size_t r = 0; r < step_rows.size(); ++r) {
        const size_t off = step_rows[r] * size_t{kDim};
        AdamStep(&table.w[off], &table.m[off], &table.v[off], &row_grads[r * kDim], kDim,
                 sparse_adam, t);
        row_slot[step_rows[r]] = -1;
        if (!touched[step_rows[r]]) {
          touched[step_rows[r]] = 1;
          ++distinct;
        }
      }
    }
    std::vector<FloatTensor> fts;
    AppendParam(table, &fts);
    for (Linear* l : {&l1, &l2, &l3}) {
      AppendParam(l->weight(), &fts);
      AppendParam(l->bias(), &fts);
    }
    Owned owned;
    Checkpoint c = MakeCheckpoint("embedding", t, fts, false, true, &owned);
    c.metadata["rows_updated"] = std::to_string(distinct);
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.6g", loss);
    c.metadata["loss"] = buf;
    if (!emit(k, c)) return false;
  }
  return true;
}

}  // namespace

}  // namespace ckpt_bench
