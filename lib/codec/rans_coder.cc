#include "codec/rans_coder.h"

#include <htscodecs/rANS_static4x16.h>

#include <chrono>
#include <cstring>
#include <mutex>
#include <vector>

// htscodecs' kernels: exported by libhtscodecs, declared in a header it does
// not install. Weak, so that a build of htscodecs without one leaves it null.
extern "C" {
using RansEncodeKernel = unsigned char* (*)(unsigned char*, unsigned int, unsigned char*,
                                            unsigned int*);
using RansDecodeKernel = unsigned char* (*)(unsigned char*, unsigned int, unsigned char*,
                                            unsigned int);
__attribute__((weak)) unsigned char* rans_compress_O0_32x16_avx2(unsigned char*, unsigned int,
                                                                 unsigned char*, unsigned int*);
__attribute__((weak)) unsigned char* rans_compress_O0_32x16_avx512(unsigned char*, unsigned int,
                                                                   unsigned char*, unsigned int*);
__attribute__((weak)) unsigned char* rans_uncompress_O0_32x16_avx2(unsigned char*, unsigned int,
                                                                   unsigned char*, unsigned int);
__attribute__((weak)) unsigned char* rans_uncompress_O0_32x16_avx512(unsigned char*, unsigned int,
                                                                     unsigned char*, unsigned int);
}

namespace ckpt::internal {
namespace {

// The order byte: order-0, 32 interleaved states, length in the stream.
constexpr int kOrder = RANS_ORDER_X32;
constexpr size_t kMaxPrefix = 1 + 5;
// Below this many bytes htscodecs 1.3's public encoder writes order byte 0
// (4 states, no SIMD kernel) instead: those inputs go to it.
constexpr size_t kMinKernelInput = 4096;

// CRAM 3.1's uint7: 7 bits per byte, most significant group first, the top
// bit set on every byte but the last.
size_t PutUint7(uint32_t v, uint8_t* out) {
  uint8_t groups[5];
  size_t k = 0;
  do {
    groups[k++] = v & 0x7F;
    v >>= 7;
  } while (v != 0);
  for (size_t i = 0; i < k; ++i)
    out[i] = static_cast<uint8_t>(groups[k - 1 - i] | (i + 1 < k ? 0x80 : 0));
  return k;
}

// Bytes read, or 0 if malformed.
size_t GetUint7(const uint8_t* in, size_t length, uint32_t* v) {
  uint64_t value = 0;
  for (size_t i = 0; i < length && i < 5; ++i) {
    value = (value << 7) | (in[i] & 0x7F);
    if (!(in[i] & 0x80)) {
      if (value > UINT32_MAX) return 0;
      *v = static_cast<uint32_t>(value);
      return i + 1;
    }
  }
  return 0;
}

struct Kernels {
  RansEncodeKernel encode = nullptr;  // null: the public entry point
  RansDecodeKernel decode = nullptr;
  const char* encode_name = "public";
  const char* decode_name = "public";
};

bool PublicEncode(const uint8_t* in, size_t n, uint8_t* out, size_t* out_size) {
  unsigned size = static_cast<unsigned>(rans_compress_bound_4x16(static_cast<unsigned>(n), kOrder));
  // htscodecs takes a non-const input but does not write it.
  if (!rans_compress_to_4x16(const_cast<uint8_t*>(in), static_cast<unsigned>(n), out, &size,
                             kOrder))
    return false;
  *out_size = size;
  return true;
}

// The order bytes this library's encoder writes: order 0, 32 or 4 states,
// maybe stored. The public decoder also takes order 1 and striped, RLE and
// bit-packed streams, whose inner sizes a damaged entry could set to
// anything, and it allocates what they say (a fuzzed stream made it
// allocate 1.8 GB and stall): those are refused, as docs/format.md says.
constexpr uint8_t kReadableOrderBits = RANS_ORDER_X32 | RANS_ORDER_CAT;

bool PublicDecode(const uint8_t* in, size_t length, uint8_t* out, size_t n) {
  if (length < 2 || (in[0] & ~kReadableOrderBits) != 0) return false;
  uint32_t stated = 0;
  if (GetUint7(in + 1, length - 1, &stated) == 0 || stated != n) return false;
  unsigned size = static_cast<unsigned>(n);
  return rans_uncompress_to_4x16(const_cast<uint8_t*>(in), static_cast<unsigned>(length), out,
                                 &size) != nullptr &&
         size == n;
}

bool KernelEncode(RansEncodeKernel kernel, const uint8_t* in, size_t n, uint8_t* out,
                  size_t* out_size) {
  out[0] = kOrder;
  const size_t prefix = 1 + PutUint7(static_cast<uint32_t>(n), out + 1);
  unsigned size = static_cast<unsigned>(RansBound(n) - prefix);
  if (!kernel(const_cast<uint8_t*>(in), static_cast<unsigned>(n), out + prefix, &size))
    return false;
  *out_size = prefix + size;
  return true;
}

// Decodes through `kernel` a stream whose order byte is exactly kOrder;
// false for any other stream, which the public entry point then decodes.
bool KernelDecode(RansDecodeKernel kernel, const uint8_t* in, size_t length, uint8_t* out, size_t n,
                  bool* handled) {
  *handled = false;
  if (length < 2 || in[0] != kOrder) return false;
  uint32_t stated = 0;
  const size_t used = GetUint7(in + 1, length - 1, &stated);
  if (used == 0 || stated != n) return false;
  *handled = true;
  const size_t prefix = 1 + used;
  return kernel(const_cast<uint8_t*>(in + prefix), static_cast<unsigned>(length - prefix), out,
                static_cast<unsigned>(n)) != nullptr;
}

// A skewed byte distribution, like an exponent plane, of an odd length.
std::vector<uint8_t> Sample() {
  std::vector<uint8_t> sample(64 * 1024 + 37);
  uint32_t x = 12345;
  for (auto& b : sample) {
    x = x * 1664525u + 1013904223u;
    b = static_cast<uint8_t>(120 + __builtin_ctz(x | 0x100u));
  }
  return sample;
}

// The kernel's stream is the public one's, byte for byte, and the public
// decoder reads it back.
bool EncoderPasses(RansEncodeKernel kernel, const std::vector<uint8_t>& sample,
                   const std::vector<uint8_t>& reference) {
  std::vector<uint8_t> stream(RansBound(sample.size())), back(sample.size());
  size_t size = 0;
  return KernelEncode(kernel, sample.data(), sample.size(), stream.data(), &size) &&
         size == reference.size() && std::memcmp(stream.data(), reference.data(), size) == 0 &&
         PublicDecode(stream.data(), size, back.data(), back.size()) && back == sample;
}

bool DecoderPasses(RansDecodeKernel kernel, const std::vector<uint8_t>& sample,
                   const std::vector<uint8_t>& reference) {
  std::vector<uint8_t> back(sample.size());
  bool handled = false;
  return KernelDecode(kernel, reference.data(), reference.size(), back.data(), back.size(),
                      &handled) &&
         handled && back == sample;
}

template <typename Fn>
double FastestOfFive(Fn&& fn) {
  double best = 1e9;
  for (int i = 0; i < 5; ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    fn();
    best = std::min(best,
                    std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  return best;
}

// Of the kernels that pass, the faster on the sample (AVX-512 only if it
// beats AVX2 by a tenth: on the AMD EPYC of the benchmark machine its
// encoder ran at 554 MB/s and AVX2's at 665 MB/s).
Kernels Choose() {
  Kernels chosen;
  __builtin_cpu_init();
  const bool avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("popcnt") &&
                    __builtin_cpu_supports("sse4.1") && __builtin_cpu_supports("ssse3");
  const bool avx512 =
      avx2 && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw");
  const std::vector<uint8_t> sample = Sample();
  std::vector<uint8_t> reference(RansBound(sample.size()));
  size_t reference_size = 0;
  if (!PublicEncode(sample.data(), sample.size(), reference.data(), &reference_size)) return chosen;
  reference.resize(reference_size);
  std::vector<uint8_t> scratch(RansBound(sample.size()));

  auto encode_time = [&](RansEncodeKernel k) {
    return FastestOfFive([&] {
      size_t size;
      (void)KernelEncode(k, sample.data(), sample.size(), scratch.data(), &size);
    });
  };
  auto decode_time = [&](RansDecodeKernel k) {
    return FastestOfFive([&] {
      bool handled;
      (void)KernelDecode(k, reference.data(), reference.size(), scratch.data(), sample.size(),
                         &handled);
    });
  };
  if (avx2 && rans_compress_O0_32x16_avx2 &&
      EncoderPasses(rans_compress_O0_32x16_avx2, sample, reference))
    chosen = {rans_compress_O0_32x16_avx2, nullptr, "avx2", "public"};
  if (avx512 && rans_compress_O0_32x16_avx512 &&
      EncoderPasses(rans_compress_O0_32x16_avx512, sample, reference) &&
      (!chosen.encode ||
       encode_time(rans_compress_O0_32x16_avx512) < 0.9 * encode_time(rans_compress_O0_32x16_avx2)))
    chosen.encode = rans_compress_O0_32x16_avx512, chosen.encode_name = "avx512";
  if (avx2 && rans_uncompress_O0_32x16_avx2 &&
      DecoderPasses(rans_uncompress_O0_32x16_avx2, sample, reference))
    chosen.decode = rans_uncompress_O0_32x16_avx2, chosen.decode_name = "avx2";
  if (avx512 && rans_uncompress_O0_32x16_avx512 &&
      DecoderPasses(rans_uncompress_O0_32x16_avx512, sample, reference) &&
      (!chosen.decode || decode_time(rans_uncompress_O0_32x16_avx512) <
                             0.9 * decode_time(rans_uncompress_O0_32x16_avx2)))
    chosen.decode = rans_uncompress_O0_32x16_avx512, chosen.decode_name = "avx512";
  return chosen;
}

const Kernels& Chosen() {
  static const Kernels kernels = Choose();
  return kernels;
}

}  // namespace

size_t RansBound(size_t n) {
  return rans_compress_bound_4x16(static_cast<unsigned>(n), kOrder) + kMaxPrefix;
}

bool RansEncode(const uint8_t* in, size_t n, uint8_t* out, size_t* out_size) {
  if (n == 0 || n > UINT32_MAX / 2) return false;
  const Kernels& k = Chosen();
  // The public entry point codes short inputs 4-way and stores inputs that
  // do not shrink; so does this, by leaving those cases to it.
  if (k.encode && n >= kMinKernelInput && KernelEncode(k.encode, in, n, out, out_size) &&
      *out_size < n)
    return true;
  return PublicEncode(in, n, out, out_size);
}

bool RansDecode(const uint8_t* in, size_t length, uint8_t* out, size_t n) {
  if (length > UINT32_MAX || n > UINT32_MAX) return false;
  const Kernels& k = Chosen();
  if (k.decode) {
    bool handled = false;
    const bool ok = KernelDecode(k.decode, in, length, out, n, &handled);
    if (handled) return ok;
  }
  return PublicDecode(in, length, out, n);
}

const char* RansEncoderName() { return Chosen().encode_name; }
const char* RansDecoderName() { return Chosen().decode_name; }

}  // namespace ckpt::internal
