// The statistics of a value diff: float decoding of every float dtype,
// which elements count as changed (NaN, inf, signed zeros), exact integer
// differences at the extremes of 64-bit types, and norms that neither
// overflow nor underflow.
#include "diff/value_stats.h"

#include <catch2/catch.hpp>
#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#include "test_util.h"

using namespace ckpt;
using namespace ckpt::internal;

namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

template <typename T>
std::vector<uint8_t> Bytes(const std::vector<T>& v) {
  std::vector<uint8_t> b(v.size() * sizeof(T));
  std::memcpy(b.data(), v.data(), b.size());
  return b;
}

TensorValueDiff Compare(DType dtype, const std::vector<uint8_t>& a, const std::vector<uint8_t>& b) {
  REQUIRE(a.size() == b.size());
  ValueStats stats(dtype);
  const uint64_t n = a.size() / DTypeSize(dtype);
  stats.AddPair(a.data(), b.data(), n);
  TensorValueDiff out;
  stats.Finish(n, &out);
  return out;
}

double F16(uint16_t bits) { return DecodeFloat(DType::kF16, Bytes<uint16_t>({bits}).data()); }
double BF16(uint16_t bits) { return DecodeFloat(DType::kBF16, Bytes<uint16_t>({bits}).data()); }
double E4M3(uint8_t bits) { return DecodeFloat(DType::kF8E4M3, &bits); }
double E5M2(uint8_t bits) { return DecodeFloat(DType::kF8E5M2, &bits); }

}  // namespace

TEST_CASE("value stats: 16- and 8-bit floats decode exactly", "[unit]") {
  CHECK(F16(0x3C00) == 1.0);
  CHECK(F16(0xC000) == -2.0);
  CHECK(F16(0x7BFF) == 65504.0);
  CHECK(F16(0x0001) == std::ldexp(1.0, -24));  // smallest subnormal
  CHECK(F16(0x0400) == std::ldexp(1.0, -14));  // smallest normal
  CHECK(F16(0x7C00) == kInf);
  CHECK(F16(0xFC00) == -kInf);
  CHECK(std::isnan(F16(0x7E00)));
  CHECK((F16(0x8000) == 0 && std::signbit(F16(0x8000))));

  CHECK(BF16(0x3F80) == 1.0);
  CHECK(BF16(0xC2F7) == -123.5);
  CHECK(BF16(0x0001) == std::ldexp(1.0, -133));  // subnormal
  CHECK(BF16(0xFF80) == -kInf);
  CHECK(std::isnan(BF16(0x7FC0)));

  // F8_E4M3 is the "fn" type: no infinities, S.1111.111 is NaN, max 448.
  CHECK(E4M3(0x38) == 1.0);
  CHECK(E4M3(0x7E) == 448.0);
  CHECK(E4M3(0xFE) == -448.0);
  CHECK(E4M3(0x78) == 256.0);  // an all-ones exponent is a normal number
  CHECK(std::isnan(E4M3(0x7F)));
  CHECK(std::isnan(E4M3(0xFF)));
  CHECK(E4M3(0x08) == std::ldexp(1.0, -6));
  CHECK(E4M3(0x01) == std::ldexp(1.0, -9));

  // F8_E5M2 follows IEEE: infinities and NaNs, max 57344.
  CHECK(E5M2(0x3C) == 1.0);
  CHECK(E5M2(0x7B) == 57344.0);
  CHECK(E5M2(0x7C) == kInf);
  CHECK(E5M2(0xFC) == -kInf);
  CHECK(std::isnan(E5M2(0x7D)));
  CHECK(E5M2(0x01) == std::ldexp(1.0, -16));
}

TEST_CASE("value stats: F32 counts, max, mean and norms", "[unit]") {
  TensorValueDiff d =
      Compare(DType::kF32, Bytes<float>({1, 2, 3, 4}), Bytes<float>({1, 2.5, 3, 0}));
  CHECK(d.elements == 4);
  CHECK(d.elements_changed == 2);
  CHECK(d.fraction_changed == 0.5);
  CHECK(d.nonfinite_changed == 0);
  CHECK(d.max_abs_diff == 4.0);
  CHECK(d.max_abs_diff_exact == 0);  // floats: only max_abs_diff
  CHECK(d.mean_abs_diff == Approx(4.5 / 4));
  CHECK(d.l2_diff == Approx(std::sqrt(16.25)));
  CHECK(d.l2_a == Approx(std::sqrt(30.0)));
  CHECK(d.rel_l2 == Approx(std::sqrt(16.25 / 30.0)));
}

TEST_CASE("value stats: identical tensors and an all-zero old tensor", "[unit]") {
  TensorValueDiff same = Compare(DType::kF32, Bytes<float>({1, -2}), Bytes<float>({1, -2}));
  CHECK(same.elements_changed == 0);
  CHECK(same.max_abs_diff == 0);
  CHECK(same.rel_l2 == 0);
  CHECK(same.l2_a == Approx(std::sqrt(5.0)));

  TensorValueDiff from_zero = Compare(DType::kF32, Bytes<float>({0, 0}), Bytes<float>({0, 3}));
  CHECK(from_zero.elements_changed == 1);
  CHECK(from_zero.l2_a == 0);
  CHECK(from_zero.rel_l2 == kInf);
}

TEST_CASE("value stats: NaN, infinities and signed zeros", "[unit]") {
  // 0: NaN -> NaN (another payload): unchanged. 1: 1 -> NaN: changed, not
  // finite. 2: inf -> inf: unchanged. 3: +0 -> -0: unchanged. 4: -0 -> 1:
  // changed by 1. 5: 2 -> -inf: changed, not finite.
  std::vector<double> a = {kNaN, 1, kInf, 0.0, -0.0, 2};
  std::vector<double> b = {-kNaN, kNaN, kInf, -0.0, 1, -kInf};
  TensorValueDiff d = Compare(DType::kF64, Bytes(a), Bytes(b));
  CHECK(d.elements_changed == 3);
  CHECK(d.nonfinite_changed == 2);
  CHECK(d.max_abs_diff == 1.0);
  CHECK(d.mean_abs_diff == 1.0 / 4);  // over the 4 elements with a finite difference
  CHECK(d.l2_diff == 1.0);
  CHECK(d.l2_a == Approx(std::sqrt(5.0)));  // the finite elements of a: 1, 0, -0, 2
  CHECK(d.rel_l2 == Approx(1 / std::sqrt(5.0)));

  SECTION("a difference beyond double's range counts as not finite") {
    const double big = std::numeric_limits<double>::max();
    TensorValueDiff o = Compare(DType::kF64, Bytes<double>({-big, 1}), Bytes<double>({big, 1}));
    CHECK(o.elements_changed == 1);
    CHECK(o.nonfinite_changed == 1);
    CHECK(o.max_abs_diff == 0);
  }
}

TEST_CASE("value stats: BF16, F16 and F8 differences", "[unit]") {
  // 1.0 -> the next representable value above it.
  TensorValueDiff bf =
      Compare(DType::kBF16, Bytes<uint16_t>({0x3F80, 0x4000}), Bytes<uint16_t>({0x3F81, 0x4000}));
  CHECK(bf.elements_changed == 1);
  CHECK(bf.max_abs_diff == std::ldexp(1.0, -7));
  CHECK(bf.l2_a == Approx(std::sqrt(5.0)));

  TensorValueDiff h = Compare(DType::kF16, Bytes<uint16_t>({0x3C00, 0x7BFF}),
                              Bytes<uint16_t>({0x3C01, 0xFBFF}));  // 65504 -> -65504
  CHECK(h.elements_changed == 2);
  CHECK(h.max_abs_diff == 131008.0);
  CHECK(h.mean_abs_diff == Approx((131008.0 + std::ldexp(1.0, -10)) / 2));

  TensorValueDiff e4 = Compare(DType::kF8E4M3, {0x38, 0x7E, 0x7F}, {0x40, 0xFE, 0xFF});
  CHECK(e4.elements_changed == 2);  // NaN -> NaN is unchanged
  CHECK(e4.max_abs_diff == 896.0);
  CHECK(e4.mean_abs_diff == Approx((1.0 + 896.0) / 3));

  TensorValueDiff e5 = Compare(DType::kF8E5M2, {0x3C, 0x7C, 0x01}, {0x3C, 0x7B, 0x00});
  CHECK(e5.elements_changed == 2);
  CHECK(e5.nonfinite_changed == 1);  // inf -> 57344
  CHECK(e5.max_abs_diff == std::ldexp(1.0, -16));
}

TEST_CASE("value stats: integer differences are exact at the extremes", "[unit]") {
  const int64_t lo = std::numeric_limits<int64_t>::min();
  const int64_t hi = std::numeric_limits<int64_t>::max();
  const uint64_t umax = std::numeric_limits<uint64_t>::max();

  TensorValueDiff i64 =
      Compare(DType::kI64, Bytes<int64_t>({lo, hi, 5, -3}), Bytes<int64_t>({hi, lo, 5, 4}));
  CHECK(i64.elements_changed == 3);
  CHECK(i64.max_abs_diff_exact == umax);
  CHECK(i64.max_abs_diff == static_cast<double>(umax));
  // The sum 2 * (2^64 - 1) + 7 does not fit 64 bits; it is kept in 128.
  CHECK(i64.mean_abs_diff == Approx((2.0 * static_cast<double>(umax) + 7) / 4));
  CHECK(i64.rel_l2 > 0);

  TensorValueDiff u64 =
      Compare(DType::kU64, Bytes<uint64_t>({0, umax, umax - 1}), Bytes<uint64_t>({umax, 0, umax}));
  CHECK(u64.max_abs_diff_exact == umax);
  CHECK(u64.elements_changed == 3);

  // One past 2^53: a double could not tell it from 2^53.
  const int64_t p53 = int64_t{1} << 53;
  TensorValueDiff odd = Compare(DType::kI64, Bytes<int64_t>({0}), Bytes<int64_t>({p53 + 1}));
  CHECK(odd.max_abs_diff_exact == uint64_t(p53) + 1);

  CHECK(Compare(DType::kI8, Bytes<int8_t>({-128}), Bytes<int8_t>({127})).max_abs_diff_exact == 255);
  CHECK(Compare(DType::kU8, {255}, {0}).max_abs_diff_exact == 255);
  CHECK(
      Compare(DType::kI16, Bytes<int16_t>({-32768}), Bytes<int16_t>({32767})).max_abs_diff_exact ==
      65535);
  CHECK(Compare(DType::kU16, Bytes<uint16_t>({0}), Bytes<uint16_t>({65535})).max_abs_diff_exact ==
        65535);
  CHECK(Compare(DType::kI32, Bytes<int32_t>({std::numeric_limits<int32_t>::min()}),
                Bytes<int32_t>({std::numeric_limits<int32_t>::max()}))
            .max_abs_diff_exact == 0xFFFFFFFFu);
  CHECK(Compare(DType::kU32, Bytes<uint32_t>({0xFFFFFFFFu}), Bytes<uint32_t>({0}))
            .max_abs_diff_exact == 0xFFFFFFFFu);
  TensorValueDiff flags = Compare(DType::kBool, {0, 1, 1, 0}, {1, 1, 0, 0});
  CHECK(flags.elements_changed == 2);
  CHECK(flags.max_abs_diff_exact == 1);
  CHECK(flags.mean_abs_diff == 0.5);
}

TEST_CASE("value stats: norms neither overflow nor underflow", "[unit]") {
  TensorValueDiff big =
      Compare(DType::kF64, Bytes<double>({1e200, 1e200}), Bytes<double>({-1e200, 1e200}));
  CHECK(big.l2_diff == Approx(2e200));
  CHECK(big.l2_a == Approx(std::sqrt(2.0) * 1e200));
  CHECK(big.rel_l2 == Approx(std::sqrt(2.0)));

  TensorValueDiff tiny =
      Compare(DType::kF64, Bytes<double>({3e-200, 4e-200}), Bytes<double>({0, 0}));
  CHECK(tiny.l2_diff == Approx(5e-200));
  CHECK(tiny.rel_l2 == Approx(1.0));
}

TEST_CASE("value stats: blocks and pieces add up to one pass over the whole", "[unit]") {
  // 5000 floats (several blocks), compared in one call and in uneven pieces
  // with an identical stretch added by AddSame, against a plain loop in
  // long double.
  const size_t n = 5000;
  std::vector<float> a(n), b(n);
  std::vector<uint8_t> r = ckpt::test::RandomBytes(n, 7);
  for (size_t i = 0; i < n; ++i) {
    a[i] = std::ldexp(static_cast<float>(i % 97) - 48.0f, static_cast<int>(i % 40) - 20);
    b[i] = (i >= 1000 && i < 2000) || r[i] % 3 ? a[i] : a[i] * 1.5f + 1.0f;
  }
  long double sum = 0, ssq = 0, asq = 0, mx = 0;
  uint64_t changed = 0;
  for (size_t i = 0; i < n; ++i) {
    const long double d = std::fabs(static_cast<long double>(b[i]) - a[i]);
    changed += a[i] != b[i];
    sum += d;
    ssq += d * d;
    asq += static_cast<long double>(a[i]) * a[i];
    mx = std::max(mx, d);
  }
  auto ba = Bytes(a), bb = Bytes(b);
  ValueStats pieces(DType::kF32);
  pieces.AddPair(ba.data(), bb.data(), 1000);
  pieces.AddSame(ba.data() + 4000, 1000);
  pieces.AddPair(ba.data() + 8000, bb.data() + 8000, 3000);
  TensorValueDiff d;
  pieces.Finish(n, &d);
  TensorValueDiff whole = Compare(DType::kF32, ba, bb);
  for (const TensorValueDiff* t : {&d, &whole}) {
    CHECK(t->elements_changed == changed);
    CHECK(t->max_abs_diff == static_cast<double>(mx));
    CHECK(t->mean_abs_diff == Approx(static_cast<double>(sum / n)).epsilon(1e-12));
    CHECK(t->l2_diff == Approx(std::sqrt(static_cast<double>(ssq))).epsilon(1e-12));
    CHECK(t->l2_a == Approx(std::sqrt(static_cast<double>(asq))).epsilon(1e-12));
  }
}
