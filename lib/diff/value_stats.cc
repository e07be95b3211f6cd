#include "diff/value_stats.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>
#include <limits>
#include <type_traits>

namespace ckpt::internal {
namespace {

// Elements decoded at once: small enough to stay in L1, large enough that
// the per-block work of ScaledNorm is noise.
constexpr size_t kBlock = 1024;

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kInf = std::numeric_limits<double>::infinity();

// A float of `mant_bits` mantissa bits and an exponent of `exp_bits` bits
// (bias 2^(exp_bits-1) - 1), sign in the top bit: the IEEE layout of F16
// and F8_E5M2. `ieee_specials`: an all-ones exponent is inf/NaN (F8_E4M3,
// the "fn" variant of safetensors and PyTorch, has no infinities and only
// S.1111.111 as NaN).
double DecodeSmallFloat(uint32_t bits, int exp_bits, int mant_bits, bool ieee_specials) {
  const uint32_t mant = bits & ((1u << mant_bits) - 1);
  const uint32_t exp = (bits >> mant_bits) & ((1u << exp_bits) - 1);
  const bool negative = (bits >> (exp_bits + mant_bits)) & 1;
  const int bias = (1 << (exp_bits - 1)) - 1;
  const uint32_t exp_max = (1u << exp_bits) - 1;
  double v;
  if (ieee_specials && exp == exp_max) {
    v = mant == 0 ? kInf : kNaN;
  } else if (!ieee_specials && exp == exp_max && mant == (1u << mant_bits) - 1) {
    v = kNaN;
  } else if (exp == 0) {
    v = std::ldexp(static_cast<double>(mant), 1 - bias - mant_bits);
  } else {
    v = std::ldexp(static_cast<double>(mant | (1u << mant_bits)),
                   static_cast<int>(exp) - bias - mant_bits);
  }
  return negative ? -v : v;
}

template <size_t N>
std::array<double, N> Table(int exp_bits, int mant_bits, bool ieee_specials) {
  std::array<double, N> t{};
  for (uint32_t i = 0; i < N; ++i) t[i] = DecodeSmallFloat(i, exp_bits, mant_bits, ieee_specials);
  return t;
}

const std::array<double, 256>& E4M3Table() {
  static const auto t = Table<256>(4, 3, false);
  return t;
}
const std::array<double, 256>& E5M2Table() {
  static const auto t = Table<256>(5, 2, true);
  return t;
}
const std::array<double, 65536>& F16Table() {
  static const auto t = Table<65536>(5, 10, true);
  return t;
}

template <typename T>
T Load(const uint8_t* p) {
  T v;
  std::memcpy(&v, p, sizeof(T));
  return v;
}

// Decodes n floats of `dtype` at p into out.
void DecodeFloats(DType dtype, const uint8_t* p, size_t n, double* out) {
  switch (dtype) {
    case DType::kF8E4M3: {
      const auto& t = E4M3Table();
      for (size_t i = 0; i < n; ++i) out[i] = t[p[i]];
      return;
    }
    case DType::kF8E5M2: {
      const auto& t = E5M2Table();
      for (size_t i = 0; i < n; ++i) out[i] = t[p[i]];
      return;
    }
    case DType::kF16: {
      const auto& t = F16Table();
      for (size_t i = 0; i < n; ++i) out[i] = t[Load<uint16_t>(p + 2 * i)];
      return;
    }
    case DType::kBF16:
      // BF16 is the high half of an F32.
      for (size_t i = 0; i < n; ++i) {
        uint32_t bits = static_cast<uint32_t>(Load<uint16_t>(p + 2 * i)) << 16;
        float f;
        std::memcpy(&f, &bits, 4);
        out[i] = f;
      }
      return;
    case DType::kF32:
      for (size_t i = 0; i < n; ++i) out[i] = Load<float>(p + 4 * i);
      return;
    default:  // kF64
      for (size_t i = 0; i < n; ++i) out[i] = Load<double>(p + 8 * i);
      return;
  }
}

template <typename T>
void Widen(const uint8_t* p, size_t n, double* out) {
  for (size_t i = 0; i < n; ++i) out[i] = static_cast<double>(Load<T>(p + i * sizeof(T)));
}

// Decodes n elements of any dtype at p into doubles (integers rounded to
// the nearest double): for norms, which are doubles anyway.
void Decode(DType dtype, const uint8_t* p, size_t n, double* out) {
  switch (dtype) {
    case DType::kBool:
    case DType::kU8:
      return Widen<uint8_t>(p, n, out);
    case DType::kI8:
      return Widen<int8_t>(p, n, out);
    case DType::kU16:
      return Widen<uint16_t>(p, n, out);
    case DType::kI16:
      return Widen<int16_t>(p, n, out);
    case DType::kU32:
      return Widen<uint32_t>(p, n, out);
    case DType::kI32:
      return Widen<int32_t>(p, n, out);
    case DType::kU64:
      return Widen<uint64_t>(p, n, out);
    case DType::kI64:
      return Widen<int64_t>(p, n, out);
    default:
      return DecodeFloats(dtype, p, n, out);
  }
}

// |y - x| of two integers, exact: the difference of any two 64-bit
// integers of one type fits in a uint64, and unsigned subtraction of the
// larger minus the smaller (both widened, signed ones by two's complement)
// yields it without overflow.
template <typename T>
uint64_t AbsDiff(T x, T y) {
  using Wide = std::conditional_t<std::is_signed_v<T>, int64_t, uint64_t>;
  const uint64_t ux = static_cast<uint64_t>(static_cast<Wide>(x));
  const uint64_t uy = static_cast<uint64_t>(static_cast<Wide>(y));
  return x < y ? uy - ux : ux - uy;
}

}  // namespace

double DecodeFloat(DType dtype, const uint8_t* p) {
  double v;
  DecodeFloats(dtype, p, 1, &v);
  return v;
}

void ScaledNorm::Add(const double* v, size_t n) {
  double m = 0;
  for (size_t i = 0; i < n; ++i) m = std::max(m, std::fabs(v[i]));
  if (m == 0) return;
  double s = 0;
  for (size_t i = 0; i < n; ++i) {
    const double x = v[i] / m;
    s += x * x;
  }
  if (m <= scale_) {
    const double r = m / scale_;
    ssq_ += s * r * r;
  } else {
    const double r = scale_ / m;
    ssq_ = ssq_ * r * r + s;
    scale_ = m;
  }
}

double ScaledNorm::Value() const { return scale_ == 0 ? 0 : scale_ * std::sqrt(ssq_); }

void ValueStats::AddPair(const uint8_t* a, const uint8_t* b, uint64_t count) {
  const size_t elem = DTypeSize(dtype_);
  while (count > 0) {
    const size_t n = static_cast<size_t>(std::min<uint64_t>(count, kBlock));
    switch (dtype_) {
      case DType::kBool:
      case DType::kU8:
        AddInts<uint8_t>(a, b, n);
        break;
      case DType::kI8:
        AddInts<int8_t>(a, b, n);
        break;
      case DType::kU16:
        AddInts<uint16_t>(a, b, n);
        break;
      case DType::kI16:
        AddInts<int16_t>(a, b, n);
        break;
      case DType::kU32:
        AddInts<uint32_t>(a, b, n);
        break;
      case DType::kI32:
        AddInts<int32_t>(a, b, n);
        break;
      case DType::kU64:
        AddInts<uint64_t>(a, b, n);
        break;
      case DType::kI64:
        AddInts<int64_t>(a, b, n);
        break;
      default:
        AddFloats(a, b, n);
        break;
    }
    a += n * elem;
    b += n * elem;
    count -= n;
  }
}

void ValueStats::AddSame(const uint8_t* a, uint64_t count) {
  const size_t elem = DTypeSize(dtype_);
  while (count > 0) {
    const size_t n = static_cast<size_t>(std::min<uint64_t>(count, kBlock));
    AddNorm(a, n);
    a += n * elem;
    count -= n;
  }
}

void ValueStats::AddFloats(const uint8_t* a, const uint8_t* b, size_t n) {
  double x[kBlock], y[kBlock], finite_a[kBlock], diffs[kBlock];
  DecodeFloats(dtype_, a, n, x);
  DecodeFloats(dtype_, b, n, y);
  size_t na = 0, nd = 0;
  for (size_t i = 0; i < n; ++i) {
    if (std::isfinite(x[i])) finite_a[na++] = x[i];
    if (x[i] == y[i] || (std::isnan(x[i]) && std::isnan(y[i]))) continue;
    ++changed_;
    const double d = std::fabs(y[i] - x[i]);
    if (!std::isfinite(d)) {
      ++nonfinite_;
      continue;
    }
    max_ = std::max(max_, d);
    sum_ += d;
    diffs[nd++] = d;
  }
  a_norm_.Add(finite_a, na);
  diff_norm_.Add(diffs, nd);
}

template <typename T>
void ValueStats::AddInts(const uint8_t* a, const uint8_t* b, size_t n) {
  double va[kBlock], diffs[kBlock];
  size_t nd = 0;
  for (size_t i = 0; i < n; ++i) {
    const T x = Load<T>(a + i * sizeof(T));
    const T y = Load<T>(b + i * sizeof(T));
    va[i] = static_cast<double>(x);
    if (x == y) continue;
    ++changed_;
    const uint64_t d = AbsDiff(x, y);
    max_exact_ = std::max(max_exact_, d);
    isum_ += d;
    diffs[nd++] = static_cast<double>(d);
  }
  a_norm_.Add(va, n);
  diff_norm_.Add(diffs, nd);
}

void ValueStats::AddNorm(const uint8_t* a, size_t n) {
  double x[kBlock], v[kBlock];
  Decode(dtype_, a, n, x);
  size_t nv = 0;
  for (size_t i = 0; i < n; ++i)
    if (std::isfinite(x[i])) v[nv++] = x[i];
  a_norm_.Add(v, nv);
}

void ValueStats::Finish(uint64_t elements, TensorValueDiff* out) const {
  out->elements = elements;
  out->elements_changed = changed_;
  out->fraction_changed =
      elements == 0 ? 0 : static_cast<double>(changed_) / static_cast<double>(elements);
  out->nonfinite_changed = nonfinite_;
  const bool integer = !DTypeIsFloat(dtype_);
  out->max_abs_diff_exact = integer ? max_exact_ : 0;
  out->max_abs_diff = integer ? static_cast<double>(max_exact_) : max_;
  const uint64_t finite = elements - nonfinite_;
  const double sum = integer ? static_cast<double>(isum_) : sum_;
  out->mean_abs_diff = finite == 0 ? 0 : sum / static_cast<double>(finite);
  out->l2_diff = diff_norm_.Value();
  out->l2_a = a_norm_.Value();
  if (out->l2_diff == 0) {
    out->rel_l2 = 0;
  } else {
    out->rel_l2 =
        out->l2_a == 0 ? std::numeric_limits<double>::infinity() : out->l2_diff / out->l2_a;
  }
}

}  // namespace ckpt::internal
