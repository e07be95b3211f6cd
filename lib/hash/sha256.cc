#include "hash/sha256.h"

#include <openssl/evp.h>

#include <cstdlib>
#include <cstring>

#include "util/hex.h"

namespace ckpt::internal {
namespace {

// Fetching the algorithm once avoids OpenSSL 3's per-call provider lookup,
// which costs more than hashing a small chunk.
const EVP_MD* Sha256Algorithm() {
  static const EVP_MD* md = [] {
    EVP_MD* fetched = EVP_MD_fetch(nullptr, "SHA256", nullptr);
    return fetched ? static_cast<const EVP_MD*>(fetched) : EVP_sha256();
  }();
  return md;
}

}  // namespace

std::string Digest::Hex() const { return HexEncode(bytes.data(), kSize); }

Digest Digest::FromView(std::string_view view) {
  Digest d;
  std::memcpy(d.bytes.data(), view.data(), kSize);
  return d;
}

bool Digest::FromHex(std::string_view hex, Digest* out) {
  if (hex.size() != 2 * kSize) return false;
  auto raw = HexDecode(hex);
  if (!raw) return false;
  std::memcpy(out->bytes.data(), raw->data(), kSize);
  return true;
}

Digest Sha256(const void* data, size_t size) {
  Digest d;
  unsigned int len = 0;
  if (EVP_Digest(data, size, d.bytes.data(), &len, Sha256Algorithm(), nullptr) != 1 ||
      len != Digest::kSize) {
    // Only possible if OpenSSL itself is broken; continuing would name
    // chunks wrongly and lose data.
    std::abort();
  }
  return d;
}

}  // namespace ckpt::internal
