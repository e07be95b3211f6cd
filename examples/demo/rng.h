// rng.h: the demo's random number generator, xoshiro256**.
//
// Hand-written rather than <random> because a checkpoint must capture the
// whole generator state as bytes: std::normal_distribution keeps a cached
// value outside the engine, and the distributions' algorithms differ between
// standard libraries, which would break bit-exact resume.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>

namespace demo {

// SplitMix64 step; used to expand seeds and as a counter-based hash.
inline uint64_t SplitMix64(uint64_t& x) {
  uint64_t z = (x += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

class Rng {
 public:
  static constexpr size_t kStateBytes = 32;

  explicit Rng(uint64_t seed) {
    for (uint64_t& word : s_) word = SplitMix64(seed);
  }

  uint64_t Next() {
    const uint64_t result = Rotl(s_[1] * 5, 7) * 9;
    const uint64_t t = s_[1] << 17;
    s_[2] ^= s_[0];
    s_[3] ^= s_[1];
    s_[1] ^= s_[2];
    s_[0] ^= s_[3];
    s_[2] ^= t;
    s_[3] = Rotl(s_[3], 45);
    return result;
  }

  // Uniform in [0, 1) with 53 random bits.
  double Uniform() { return static_cast<double>(Next() >> 11) * 0x1.0p-53; }

  // Standard normal by Box-Muller. Returns one value per call and caches
  // nothing, so the state stays exactly the 32 bytes below.
  float Normal() {
    const double u1 = 1.0 - Uniform();  // (0, 1], keeps log finite
    const double u2 = Uniform();
    return static_cast<float>(std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * u2));
  }

  // Little-endian, so the saved bytes mean the same on any machine.
  void SaveState(uint8_t out[kStateBytes]) const {
    for (size_t i = 0; i < kStateBytes; ++i)
      out[i] = static_cast<uint8_t>(s_[i / 8] >> (8 * (i % 8)));
  }
  void RestoreState(const uint8_t in[kStateBytes]) {
    for (uint64_t& word : s_) word = 0;
    for (size_t i = 0; i < kStateBytes; ++i) s_[i / 8] |= uint64_t{in[i]} << (8 * (i % 8));
  }

  bool operator==(const Rng& other) const = default;

 private:
  static uint64_t Rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

  uint64_t s_[4];
};

}  // namespace demo
