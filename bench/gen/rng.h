// bench/gen/rng.h: the generator's own deterministic random numbers.
//
// std::normal_distribution and friends are implementation-defined, so the same
// seed could give different checkpoints with another standard library. These
// are fully specified (xoshiro256** seeded by SplitMix64, Box-Muller normals,
// inverse-CDF Zipf), so a seed names one data set.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace ckpt_bench {

// Mixes values into one 64-bit seed (SplitMix64 finalizer).
uint64_t MixSeed(uint64_t a, uint64_t b);

class Rng {
 public:
  explicit Rng(uint64_t seed);

  uint64_t Next();
  // Uniform in [0, 1).
  double Uniform();
  // Uniform integer in [0, n). REQUIRES: n > 0.
  uint64_t Below(uint64_t n);
  // Standard normal.
  double Normal();
  // Fills dst[0, n) with normal(0, stddev) floats.
  void FillNormal(float* dst, size_t n, double stddev);

 private:
  uint64_t s_[4];
  bool has_spare_ = false;
  double spare_ = 0;
};

// Samples ranks 0..n-1 with P(r) proportional to 1/(r+1)^exponent, the token
// and item frequencies of text and recommender logs.
class Zipf {
 public:
  Zipf(uint64_t n, double exponent);
  uint64_t Sample(Rng& rng) const;

 private:
  std::vector<double> cdf_;
};

}  // namespace ckpt_bench
