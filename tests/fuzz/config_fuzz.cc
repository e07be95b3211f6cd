// Fuzzes DecodeConfig with the input as the config object's text. A config
// it accepts must be within the documented ranges and must re-encode to a
// text that decodes to the same config, which encodes to the same text.
#include <cstdint>
#include <string>

#include "ckpt/version.h"
#include "fuzz_util.h"
#include "repo/config.h"

using namespace ckpt::internal;

namespace {

bool Same(const ckpt::StoreConfig& a, const ckpt::StoreConfig& b) {
  return a.format_version == b.format_version && a.chunk_size == b.chunk_size &&
         a.zstd_level == b.zstd_level && a.delta_max_depth == b.delta_max_depth &&
         a.store_id == b.store_id;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  ckpt::StoreConfig config;
  ckpt::Status s = DecodeConfig(text, &config);
  if (!s.ok()) {
    FUZZ_CHECK(s.code() == ckpt::Code::kCorruption || s.code() == ckpt::Code::kVersionMismatch);
    return 0;
  }
  FUZZ_CHECK(config.format_version >= 0 && config.format_version <= ckpt::kFormatVersion);
  FUZZ_CHECK(config.chunk_size >= 4096 && config.chunk_size <= (64u << 20));
  FUZZ_CHECK(config.zstd_level >= 1 && config.zstd_level <= 19);
  FUZZ_CHECK(config.delta_max_depth >= 0 && config.delta_max_depth <= kMaxDeltaDepth);
  if (config.format_version < 2) FUZZ_CHECK(config.delta_max_depth == 0);
  FUZZ_CHECK(config.store_id.find('\n') == std::string::npos);

  const std::string encoded = EncodeConfig(config);
  ckpt::StoreConfig back;
  FUZZ_CHECK(DecodeConfig(encoded, &back).ok());
  FUZZ_CHECK(Same(config, back));
  FUZZ_CHECK(EncodeConfig(back) == encoded);
  return 0;
}
