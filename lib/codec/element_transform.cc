#include "codec/element_transform.h"

#include <bit>
#include <cstring>
#include <type_traits>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace ckpt::internal {

// The stored format is little-endian; so are the machines this builds for.
static_assert(std::endian::native == std::endian::little,
              "element transforms read elements in host order");

namespace {

template <typename U>
U Load(const uint8_t* p) {
  U v;
  std::memcpy(&v, p, sizeof(U));
  return v;
}

template <typename U>
void Store(uint8_t* p, U v) {
  std::memcpy(p, &v, sizeof(U));
}

template <typename U>
U Zigzag(U w) {
  using S = std::make_signed_t<U>;
  return static_cast<U>(w << 1) ^ static_cast<U>(static_cast<S>(w) >> (sizeof(U) * 8 - 1));
}

template <typename U>
U Unzigzag(U z) {
  return static_cast<U>((z >> 1) ^ static_cast<U>(0 - (z & 1)));
}

template <typename U, typename F>
void Map1(const uint8_t* src, size_t count, uint8_t* dst, F f) {
  for (size_t i = 0; i < count; ++i) Store<U>(dst + i * sizeof(U), f(Load<U>(src + i * sizeof(U))));
}

template <typename U, typename F>
void Map2(const uint8_t* a, const uint8_t* b, size_t count, uint8_t* dst, F f) {
  for (size_t i = 0; i < count; ++i)
    Store<U>(dst + i * sizeof(U), f(Load<U>(a + i * sizeof(U)), Load<U>(b + i * sizeof(U))));
}

#if defined(__SSE2__)
// 16 bytes at a time for 2- and 4-byte elements; the scalar maps finish the
// rest (and do all of 8-byte elements: SSE2 has no 64-bit arithmetic shift).
__m128i VLoad(const uint8_t* p) { return _mm_loadu_si128(reinterpret_cast<const __m128i*>(p)); }
void VStore(uint8_t* p, __m128i v) { _mm_storeu_si128(reinterpret_cast<__m128i*>(p), v); }

template <typename U>
struct Lanes;
template <>
struct Lanes<uint16_t> {
  static __m128i Shl1(__m128i v) { return _mm_slli_epi16(v, 1); }
  static __m128i Shl(__m128i v, int n) { return _mm_slli_epi16(v, n); }
  static __m128i Shr(__m128i v, int n) { return _mm_srli_epi16(v, n); }
  static __m128i Sar(__m128i v, int n) { return _mm_srai_epi16(v, n); }
  static __m128i Add(__m128i a, __m128i b) { return _mm_add_epi16(a, b); }
  static __m128i Sub(__m128i a, __m128i b) { return _mm_sub_epi16(a, b); }
  static __m128i Ones() { return _mm_set1_epi16(1); }
};
template <>
struct Lanes<uint32_t> {
  static __m128i Shl1(__m128i v) { return _mm_slli_epi32(v, 1); }
  static __m128i Shl(__m128i v, int n) { return _mm_slli_epi32(v, n); }
  static __m128i Shr(__m128i v, int n) { return _mm_srli_epi32(v, n); }
  static __m128i Sar(__m128i v, int n) { return _mm_srai_epi32(v, n); }
  static __m128i Add(__m128i a, __m128i b) { return _mm_add_epi32(a, b); }
  static __m128i Sub(__m128i a, __m128i b) { return _mm_sub_epi32(a, b); }
  static __m128i Ones() { return _mm_set1_epi32(1); }
};

constexpr size_t kVectorBytes = 16;

template <typename U>
size_t RotLowVector(const uint8_t* src, size_t count, uint8_t* dst) {
  using L = Lanes<U>;
  const size_t step = kVectorBytes / sizeof(U);
  size_t i = 0;
  for (; i + step <= count; i += step) {
    __m128i v = VLoad(src + i * sizeof(U));
    VStore(dst + i * sizeof(U), _mm_or_si128(L::Shl1(v), L::Shr(v, sizeof(U) * 8 - 1)));
  }
  return i;
}
template <typename U>
size_t RotHighVector(const uint8_t* src, size_t count, uint8_t* dst) {
  using L = Lanes<U>;
  const size_t step = kVectorBytes / sizeof(U);
  size_t i = 0;
  for (; i + step <= count; i += step) {
    __m128i v = VLoad(src + i * sizeof(U));
    VStore(dst + i * sizeof(U), _mm_or_si128(L::Shr(v, 1), L::Shl(v, sizeof(U) * 8 - 1)));
  }
  return i;
}
template <typename U>
size_t DiffVector(const uint8_t* data, const uint8_t* base, size_t count, uint8_t* dst) {
  using L = Lanes<U>;
  const size_t step = kVectorBytes / sizeof(U);
  size_t i = 0;
  for (; i + step <= count; i += step) {
    __m128i w = L::Sub(VLoad(data + i * sizeof(U)), VLoad(base + i * sizeof(U)));
    VStore(dst + i * sizeof(U), _mm_xor_si128(L::Shl1(w), L::Sar(w, sizeof(U) * 8 - 1)));
  }
  return i;
}
template <typename U>
size_t UndoVector(const uint8_t* diff, const uint8_t* base, size_t count, uint8_t* dst) {
  using L = Lanes<U>;
  const size_t step = kVectorBytes / sizeof(U);
  const __m128i zero = _mm_setzero_si128();
  size_t i = 0;
  for (; i + step <= count; i += step) {
    __m128i z = VLoad(diff + i * sizeof(U));
    __m128i sign = L::Sub(zero, _mm_and_si128(z, L::Ones()));
    __m128i w = _mm_xor_si128(L::Shr(z, 1), sign);
    VStore(dst + i * sizeof(U), L::Add(VLoad(base + i * sizeof(U)), w));
  }
  return i;
}
#endif

template <template <typename> class Op, typename... Args>
void ForWidth(size_t k, Args&&... args) {
  switch (k) {
    case 2:
      Op<uint16_t>::Run(args...);
      break;
    case 4:
      Op<uint32_t>::Run(args...);
      break;
    case 8:
      Op<uint64_t>::Run(args...);
      break;
    default:
      break;
  }
}

// Each op runs its vector loop where there is one, then the scalar map
// from the first element the vector loop left.

template <typename U>
struct RotLow {
  static void Run(const uint8_t* src, size_t count, uint8_t* dst) {
    size_t done = 0;
#if defined(__SSE2__)
    if constexpr (sizeof(U) <= 4) done = RotLowVector<U>(src, count, dst) * sizeof(U);
#endif
    Map1<U>(src + done, count - done / sizeof(U), dst + done, [](U v) { return std::rotl(v, 1); });
  }
};
template <typename U>
struct RotHigh {
  static void Run(const uint8_t* src, size_t count, uint8_t* dst) {
    size_t done = 0;
#if defined(__SSE2__)
    if constexpr (sizeof(U) <= 4) done = RotHighVector<U>(src, count, dst) * sizeof(U);
#endif
    Map1<U>(src + done, count - done / sizeof(U), dst + done, [](U v) { return std::rotr(v, 1); });
  }
};
template <typename U>
struct Diff {
  static void Run(const uint8_t* data, const uint8_t* base, size_t count, uint8_t* dst) {
    size_t done = 0;
#if defined(__SSE2__)
    if constexpr (sizeof(U) <= 4) done = DiffVector<U>(data, base, count, dst) * sizeof(U);
#endif
    Map2<U>(data + done, base + done, count - done / sizeof(U), dst + done,
            [](U d, U b) { return Zigzag<U>(static_cast<U>(d - b)); });
  }
};
template <typename U>
struct Undo {
  static void Run(const uint8_t* diff, const uint8_t* base, size_t count, uint8_t* dst) {
    size_t done = 0;
#if defined(__SSE2__)
    if constexpr (sizeof(U) <= 4) done = UndoVector<U>(diff, base, count, dst) * sizeof(U);
#endif
    Map2<U>(diff + done, base + done, count - done / sizeof(U), dst + done,
            [](U z, U b) { return static_cast<U>(b + Unzigzag<U>(z)); });
  }
};

}  // namespace

void RotateSignToLow(const uint8_t* src, size_t count, size_t k, uint8_t* dst) {
  ForWidth<RotLow>(k, src, count, dst);
}
void RotateSignToHigh(const uint8_t* src, size_t count, size_t k, uint8_t* dst) {
  ForWidth<RotHigh>(k, src, count, dst);
}
void ZigzagDifference(const uint8_t* data, const uint8_t* base, size_t count, size_t k,
                      uint8_t* dst) {
  ForWidth<Diff>(k, data, base, count, dst);
}
void ZigzagUndo(const uint8_t* diff, const uint8_t* base, size_t count, size_t k, uint8_t* dst) {
  ForWidth<Undo>(k, diff, base, count, dst);
}

}  // namespace ckpt::internal
