#include "mount/file_names.h"

#include <cstdint>

namespace ckpt::mount {
namespace {

constexpr char kHex[] = "0123456789ABCDEF";

bool NeedsEscape(char c) { return c == '%' || c == '/' || c == '\0'; }

void AppendEscaped(std::string& out, char c) {
  const auto byte = static_cast<unsigned char>(c);
  out += '%';
  out += kHex[byte >> 4];
  out += kHex[byte & 15];
}

// FNV-1a: only tells cut names apart within one directory, no security role.
uint64_t NameHash(std::string_view name) {
  uint64_t h = 14695981039346656037ull;
  for (char c : name) {
    h ^= static_cast<unsigned char>(c);
    h *= 1099511628211ull;
  }
  return h;
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

std::string EscapeName(std::string_view name, std::string_view suffix) {
  std::string out;
  if (name.empty()) {
    out = "%";
  } else if (name == ".") {
    out = "%2E";
  } else if (name == "..") {
    out = "%2E%2E";
  } else {
    out.reserve(name.size());
    for (char c : name) {
      if (NeedsEscape(c)) {
        AppendEscaped(out, c);
      } else {
        out += c;
      }
    }
  }
  if (out.size() + suffix.size() > kMaxFileName) {
    constexpr size_t kMark = 2 + 16;  // "%~" and the hash
    size_t keep = kMaxFileName - suffix.size() - kMark;
    // Never cut an escape in half.
    while (keep > 0 && (out[keep - 1] == '%' || (keep > 1 && out[keep - 2] == '%'))) --keep;
    out.resize(keep);
    out += "%~";
    const uint64_t h = NameHash(name);
    for (int shift = 60; shift >= 0; shift -= 4) out += kHex[(h >> shift) & 15];
  }
  return out + std::string(suffix);
}

std::optional<std::string> UnescapeFileName(std::string_view file_name) {
  if (file_name == "%") return std::string();
  std::string out;
  out.reserve(file_name.size());
  for (size_t i = 0; i < file_name.size(); ++i) {
    if (file_name[i] != '%') {
      out += file_name[i];
      continue;
    }
    if (i + 2 >= file_name.size()) return std::nullopt;
    const int hi = HexValue(file_name[i + 1]);
    const int lo = HexValue(file_name[i + 2]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out += static_cast<char>(hi * 16 + lo);
    i += 2;
  }
  return out;
}

}  // namespace ckpt::mount
