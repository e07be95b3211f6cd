#include "util/hex.h"

#include <random>

namespace ckpt::internal {

std::string HexEncode(const void* data, size_t size) {
  static constexpr char kDigits[] = "0123456789abcdef";
  const auto* bytes = static_cast<const uint8_t*>(data);
  std::string out(size * 2, '0');
  for (size_t i = 0; i < size; ++i) {
    out[2 * i] = kDigits[bytes[i] >> 4];
    out[2 * i + 1] = kDigits[bytes[i] & 15];
  }
  return out;
}

static int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool IsHex(std::string_view text) {
  for (char c : text)
    if (HexValue(c) < 0) return false;
  return true;
}

std::optional<std::vector<uint8_t>> HexDecode(std::string_view hex) {
  if (hex.size() % 2 != 0 || !IsHex(hex)) return std::nullopt;
  std::vector<uint8_t> out(hex.size() / 2);
  for (size_t i = 0; i < out.size(); ++i)
    out[i] = static_cast<uint8_t>(HexValue(hex[2 * i]) << 4 | HexValue(hex[2 * i + 1]));
  return out;
}

std::string RandomHexId(size_t bytes) {
  // std::random_device reads the kernel's entropy pool on Linux, so ids from
  // concurrent processes do not collide.
  std::random_device device;
  std::vector<uint8_t> raw(bytes);
  for (auto& b : raw) b = static_cast<uint8_t>(device());
  return HexEncode(raw.data(), raw.size());
}

}  // namespace ckpt::internal
