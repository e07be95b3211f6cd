// diff/value_stats: the statistics of a value diff, accumulated over the
// pieces of a tensor as they are read (see ckpt/value_diff.h for what they
// mean). Pure arithmetic on little-endian element bytes.
#pragma once

#include <cstddef>
#include <cstdint>

#include "ckpt/dtype.h"
#include "ckpt/value_diff.h"

namespace ckpt::internal {

// Decodes one element of a float dtype to double (every value of the 8-
// and 16-bit types is exact in a double). REQUIRES: DTypeIsFloat(dtype).
double DecodeFloat(DType dtype, const uint8_t* p);

// ‖v‖₂ of a stream of values without overflow or underflow of the squares:
// each block is scaled by its largest magnitude (as LAPACK's dlassq does,
// a block at a time rather than a value at a time).
class ScaledNorm {
 public:
  // Adds v[0..n), all finite.
  void Add(const double* v, size_t n);
  double Value() const;

 private:
  double scale_ = 0;
  double ssq_ = 0;  // the sum of squares is scale_² · ssq_
};

class ValueStats {
 public:
  explicit ValueStats(DType dtype) : dtype_(dtype) {}

  // Compares `count` elements at `a` (old) and `b` (new).
  void AddPair(const uint8_t* a, const uint8_t* b, uint64_t count);
  // Adds `count` elements at `a` that the new tensor has unchanged: they
  // count only towards ‖a‖₂.
  void AddSame(const uint8_t* a, uint64_t count);
  // Writes the statistics of a tensor of `elements` elements (those added
  // plus any skipped as identical) into the stats fields of `out`.
  void Finish(uint64_t elements, TensorValueDiff* out) const;

 private:
  void AddFloats(const uint8_t* a, const uint8_t* b, size_t n);
  template <typename T>
  void AddInts(const uint8_t* a, const uint8_t* b, size_t n);
  void AddNorm(const uint8_t* a, size_t n);

  DType dtype_;
  uint64_t changed_ = 0;
  uint64_t nonfinite_ = 0;
  double max_ = 0;
  uint64_t max_exact_ = 0;
  double sum_ = 0;              // floats: Σ|Δ|
  unsigned __int128 isum_ = 0;  // integers: Σ|Δ|, exact
  ScaledNorm diff_norm_;
  ScaledNorm a_norm_;
};

}  // namespace ckpt::internal
