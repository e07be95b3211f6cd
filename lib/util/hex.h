// util/hex: lower-case hex encoding of byte strings, and random ids.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ckpt::internal {

std::string HexEncode(const void* data, size_t size);
// Decodes lower- or upper-case hex; nullopt on odd length or a non-hex digit.
std::optional<std::vector<uint8_t>> HexDecode(std::string_view hex);
bool IsHex(std::string_view text);
// `bytes` random bytes from the OS entropy source, hex-encoded.
std::string RandomHexId(size_t bytes);

}  // namespace ckpt::internal
