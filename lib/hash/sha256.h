// hash/: content names. A Digest is the SHA-256 of a chunk's uncompressed
// bytes (or of an encoded manifest); it is the chunk's identity everywhere.
// Uses OpenSSL, which picks the CPU's SHA extensions when present.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

namespace ckpt::internal {

struct Digest {
  static constexpr size_t kSize = 32;
  std::array<uint8_t, kSize> bytes{};

  std::string Hex() const;
  // First 12 hex digits, for messages.
  std::string ShortHex() const { return Hex().substr(0, 12); }
  std::string_view View() const { return {reinterpret_cast<const char*>(bytes.data()), kSize}; }
  // REQUIRES: view.size() == kSize.
  static Digest FromView(std::string_view view);
  static bool FromHex(std::string_view hex, Digest* out);

  bool operator==(const Digest& other) const { return bytes == other.bytes; }
  bool operator!=(const Digest& other) const { return bytes != other.bytes; }
  bool operator<(const Digest& other) const { return bytes < other.bytes; }
};

struct DigestHash {
  size_t operator()(const Digest& d) const {
    size_t h;
    static_assert(sizeof(h) <= Digest::kSize);
    __builtin_memcpy(&h, d.bytes.data(), sizeof(h));  // already uniformly random
    return h;
  }
};

// SHA-256 of `size` bytes at `data`.
Digest Sha256(const void* data, size_t size);

}  // namespace ckpt::internal
