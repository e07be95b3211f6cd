// codec/rans_coder: one plane to and from a rANS-Nx16 stream (CRAM 3.1),
// order-0 with 32 interleaved states, through htscodecs. Owns the choice of
// htscodecs' SIMD kernel, made once per process.
//
// Why not just call rans_compress_to_4x16 / rans_uncompress_to_4x16: in
// htscodecs 1.3 (Debian 12) each call runs CPUID three times to pick its
// kernel, and under a hypervisor every CPUID traps to the host: 4.8 µs each
// on the benchmark VM, ~17 µs per plane, an eighth of the time to decode a
// 128 KiB plane. The library also exports its kernels
// (rans_compress_O0_32x16_avx2 and the like, declared weak here). This
// module writes the stream's prefix itself (the order byte 0x04 and the
// uint7 length, CRAM 3.1 §3) around a kernel, and uses a kernel only after
// it passed a self-test at first use: its stream for a sample is
// byte-identical to the public entry point's, and each path decodes the
// other's stream. Otherwise (another htscodecs, another CPU) the public
// entry points are used. Both paths read and write the same format.
#pragma once

#include <cstddef>
#include <cstdint>

namespace ckpt::internal {

// Bytes RansEncode may write for `n` input bytes.
size_t RansBound(size_t n);

// Encodes `n` bytes into `out` (RansBound(n) bytes of room); the stream's
// length goes to *out_size. False if htscodecs fails.
bool RansEncode(const uint8_t* in, size_t n, uint8_t* out, size_t* out_size);

// Decodes a stream of `length` bytes into exactly `n` bytes at `out`. False
// if the stream is malformed or does not decode to `n` bytes.
bool RansDecode(const uint8_t* in, size_t length, uint8_t* out, size_t n);

// Which kernels the self-test accepted, for tests and diagnostics:
// "avx2", "avx512" or "public" each.
const char* RansEncoderName();
const char* RansDecoderName();

}  // namespace ckpt::internal
