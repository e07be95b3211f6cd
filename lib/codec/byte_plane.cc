#include "codec/byte_plane.h"

#include <cstring>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace ckpt::internal {

namespace {

// Fixed element sizes let the compiler unroll the inner loop. The scalar
// loops handle what the vector loops leave (fewer than 16 elements), and
// whole chunks where SSE2 is missing.
template <size_t kElem>
void SplitScalar(const uint8_t* src, size_t begin, size_t count, uint8_t* dst) {
  for (size_t i = begin; i < count; ++i)
    for (size_t j = 0; j < kElem; ++j) dst[j * count + i] = src[i * kElem + j];
}

template <size_t kElem>
void JoinScalar(const uint8_t* src, size_t begin, size_t count, uint8_t* dst) {
  for (size_t i = begin; i < count; ++i)
    for (size_t j = 0; j < kElem; ++j) dst[i * kElem + j] = src[j * count + i];
}

#if defined(__SSE2__)
// Planes are 16 elements per vector. Splitting is repeated deinterleaving of
// even and odd bytes; joining is repeated interleaving (unpack), the scalar
// loop's transpose done 16 elements at a time.

__m128i Load(const uint8_t* p) { return _mm_loadu_si128(reinterpret_cast<const __m128i*>(p)); }
void Store(uint8_t* p, __m128i v) { _mm_storeu_si128(reinterpret_cast<__m128i*>(p), v); }

// Even bytes of a then b, and odd bytes of a then b.
void Deinterleave(__m128i a, __m128i b, __m128i* even, __m128i* odd) {
  const __m128i low = _mm_set1_epi16(0x00ff);
  *even = _mm_packus_epi16(_mm_and_si128(a, low), _mm_and_si128(b, low));
  *odd = _mm_packus_epi16(_mm_srli_epi16(a, 8), _mm_srli_epi16(b, 8));
}

template <size_t kElem>
size_t SplitVector(const uint8_t* src, size_t count, uint8_t* dst);

template <>
size_t SplitVector<2>(const uint8_t* src, size_t count, uint8_t* dst) {
  size_t i = 0;
  for (; i + 16 <= count; i += 16) {
    __m128i p0, p1;
    Deinterleave(Load(src + 2 * i), Load(src + 2 * i + 16), &p0, &p1);
    Store(dst + i, p0);
    Store(dst + count + i, p1);
  }
  return i;
}

template <>
size_t SplitVector<4>(const uint8_t* src, size_t count, uint8_t* dst) {
  size_t i = 0;
  for (; i + 16 <= count; i += 16) {
    const uint8_t* s = src + 4 * i;
    __m128i e01, o01, e23, o23, p0, p1, p2, p3;
    Deinterleave(Load(s), Load(s + 16), &e01, &o01);       // bytes 0,2 | 1,3 of elements 0-7
    Deinterleave(Load(s + 32), Load(s + 48), &e23, &o23);  // the same of elements 8-15
    Deinterleave(e01, e23, &p0, &p2);
    Deinterleave(o01, o23, &p1, &p3);
    Store(dst + i, p0);
    Store(dst + count + i, p1);
    Store(dst + 2 * count + i, p2);
    Store(dst + 3 * count + i, p3);
  }
  return i;
}

template <>
size_t SplitVector<8>(const uint8_t* src, size_t count, uint8_t* dst) {
  size_t i = 0;
  for (; i + 16 <= count; i += 16) {
    const uint8_t* s = src + 8 * i;
    __m128i e[4], o[4];  // bytes 0,2,4,6 | 1,3,5,7 of elements 4k..4k+3
    for (int k = 0; k < 4; ++k) Deinterleave(Load(s + 32 * k), Load(s + 32 * k + 16), &e[k], &o[k]);
    __m128i ee[2], eo[2], oe[2], oo[2];  // bytes 0,4 | 2,6 | 1,5 | 3,7 of 8 elements
    for (int k = 0; k < 2; ++k) {
      Deinterleave(e[2 * k], e[2 * k + 1], &ee[k], &eo[k]);
      Deinterleave(o[2 * k], o[2 * k + 1], &oe[k], &oo[k]);
    }
    __m128i p[8];
    Deinterleave(ee[0], ee[1], &p[0], &p[4]);
    Deinterleave(eo[0], eo[1], &p[2], &p[6]);
    Deinterleave(oe[0], oe[1], &p[1], &p[5]);
    Deinterleave(oo[0], oo[1], &p[3], &p[7]);
    for (size_t j = 0; j < 8; ++j) Store(dst + j * count + i, p[j]);
  }
  return i;
}

template <size_t kElem>
size_t JoinVector(const uint8_t* src, size_t count, uint8_t* dst);

template <>
size_t JoinVector<2>(const uint8_t* src, size_t count, uint8_t* dst) {
  size_t i = 0;
  for (; i + 16 <= count; i += 16) {
    __m128i a = Load(src + i), b = Load(src + count + i);
    Store(dst + 2 * i, _mm_unpacklo_epi8(a, b));
    Store(dst + 2 * i + 16, _mm_unpackhi_epi8(a, b));
  }
  return i;
}

template <>
size_t JoinVector<4>(const uint8_t* src, size_t count, uint8_t* dst) {
  size_t i = 0;
  for (; i + 16 <= count; i += 16) {
    __m128i a = Load(src + i), b = Load(src + count + i);
    __m128i c = Load(src + 2 * count + i), d = Load(src + 3 * count + i);
    __m128i ab_lo = _mm_unpacklo_epi8(a, b), ab_hi = _mm_unpackhi_epi8(a, b);
    __m128i cd_lo = _mm_unpacklo_epi8(c, d), cd_hi = _mm_unpackhi_epi8(c, d);
    uint8_t* out = dst + 4 * i;
    Store(out, _mm_unpacklo_epi16(ab_lo, cd_lo));
    Store(out + 16, _mm_unpackhi_epi16(ab_lo, cd_lo));
    Store(out + 32, _mm_unpacklo_epi16(ab_hi, cd_hi));
    Store(out + 48, _mm_unpackhi_epi16(ab_hi, cd_hi));
  }
  return i;
}

template <>
size_t JoinVector<8>(const uint8_t* src, size_t count, uint8_t* dst) {
  size_t i = 0;
  for (; i + 16 <= count; i += 16) {
    __m128i p[8];
    for (size_t j = 0; j < 8; ++j) p[j] = Load(src + j * count + i);
    __m128i b[8];  // byte pairs: b[2k] elements 0-7, b[2k+1] elements 8-15 of planes 2k,2k+1
    for (int k = 0; k < 4; ++k) {
      b[2 * k] = _mm_unpacklo_epi8(p[2 * k], p[2 * k + 1]);
      b[2 * k + 1] = _mm_unpackhi_epi8(p[2 * k], p[2 * k + 1]);
    }
    __m128i w[8];  // 4-byte groups: planes 0-3 (w[0..3]) and 4-7 (w[4..7]), 4 elements each
    for (int k = 0; k < 2; ++k) {
      w[4 * k + 0] = _mm_unpacklo_epi16(b[4 * k + 0], b[4 * k + 2]);
      w[4 * k + 1] = _mm_unpackhi_epi16(b[4 * k + 0], b[4 * k + 2]);
      w[4 * k + 2] = _mm_unpacklo_epi16(b[4 * k + 1], b[4 * k + 3]);
      w[4 * k + 3] = _mm_unpackhi_epi16(b[4 * k + 1], b[4 * k + 3]);
    }
    uint8_t* out = dst + 8 * i;
    for (int k = 0; k < 4; ++k) {
      Store(out + 32 * k, _mm_unpacklo_epi32(w[k], w[4 + k]));
      Store(out + 32 * k + 16, _mm_unpackhi_epi32(w[k], w[4 + k]));
    }
  }
  return i;
}
#else
template <size_t kElem>
size_t SplitVector(const uint8_t*, size_t, uint8_t*) {
  return 0;
}
template <size_t kElem>
size_t JoinVector(const uint8_t*, size_t, uint8_t*) {
  return 0;
}
#endif

template <size_t kElem>
void Split(const uint8_t* src, size_t count, uint8_t* dst) {
  SplitScalar<kElem>(src, SplitVector<kElem>(src, count, dst), count, dst);
}

template <size_t kElem>
void Join(const uint8_t* src, size_t count, uint8_t* dst) {
  JoinScalar<kElem>(src, JoinVector<kElem>(src, count, dst), count, dst);
}

}  // namespace

void BytePlaneSplit(const uint8_t* src, size_t size, size_t elem_size, uint8_t* dst) {
  size_t count = elem_size ? size / elem_size : 0;
  switch (elem_size) {
    case 2:
      Split<2>(src, count, dst);
      break;
    case 4:
      Split<4>(src, count, dst);
      break;
    case 8:
      Split<8>(src, count, dst);
      break;
    default:
      count = 0;
      break;
  }
  size_t done = count * elem_size;
  if (size > done) std::memcpy(dst + done, src + done, size - done);  // memcpy forbids null
}

void BytePlaneJoin(const uint8_t* src, size_t size, size_t elem_size, uint8_t* dst) {
  size_t count = elem_size ? size / elem_size : 0;
  switch (elem_size) {
    case 2:
      Join<2>(src, count, dst);
      break;
    case 4:
      Join<4>(src, count, dst);
      break;
    case 8:
      Join<8>(src, count, dst);
      break;
    default:
      count = 0;
      break;
  }
  size_t done = count * elem_size;
  if (size > done) std::memcpy(dst + done, src + done, size - done);  // memcpy forbids null
}

}  // namespace ckpt::internal
