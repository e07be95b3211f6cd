// store/config: the text config object. A store must refuse a config it
// cannot fully understand instead of guessing at a chunk size.
#include "repo/config.h"

#include <catch2/catch.hpp>
#include <string>

#include "ckpt/version.h"

using ckpt::Code;
using ckpt::StoreConfig;
using ckpt::internal::DecodeConfig;
using ckpt::internal::EncodeConfig;

namespace {

StoreConfig Sample() {
  StoreConfig c;
  c.format_version = ckpt::kFormatVersion;
  c.chunk_size = 262144;
  c.zstd_level = 3;
  c.delta_max_depth = 2;
  c.store_id = "00112233445566778899aabbccddeeff";
  return c;
}

Code DecodeCode(const std::string& text) {
  StoreConfig out;
  return DecodeConfig(text, &out).code();
}

// A valid config with line `key=...` replaced by `line` (or appended).
std::string With(const std::string& key, const std::string& line) {
  std::string text = EncodeConfig(Sample());
  size_t at = text.find("\n" + key + "=");
  if (at == std::string::npos) return text + line + "\n";
  size_t end = text.find('\n', at + 1);
  return text.substr(0, at + 1) + line + text.substr(end);
}

// A valid config without its `key=...` line.
std::string Without(const std::string& key) {
  std::string text = EncodeConfig(Sample());
  size_t at = text.find("\n" + key + "=");
  size_t end = text.find('\n', at + 1);
  return text.substr(0, at) + text.substr(end);
}

}  // namespace

TEST_CASE("config round trips through encode and decode", "[unit][store]") {
  const StoreConfig c = Sample();
  const std::string text = EncodeConfig(c);
  CHECK(text ==
        "ckpt-store\nformat_version=6\nchunk_size=262144\nzstd_level=3\ndelta_max_depth=2\n"
        "store_id=00112233445566778899aabbccddeeff\n");
  StoreConfig back;
  REQUIRE(DecodeConfig(text, &back).ok());
  CHECK(back.format_version == c.format_version);
  CHECK(back.chunk_size == c.chunk_size);
  CHECK(back.zstd_level == c.zstd_level);
  CHECK(back.delta_max_depth == c.delta_max_depth);
  CHECK(back.store_id == c.store_id);
}

TEST_CASE("config accepts the range limits and unknown keys", "[unit][store]") {
  CHECK(DecodeCode(With("chunk_size", "chunk_size=4096")) == Code::kOk);
  CHECK(DecodeCode(With("chunk_size", "chunk_size=67108864")) == Code::kOk);
  CHECK(DecodeCode(With("zstd_level", "zstd_level=19")) == Code::kOk);
  // A later minor version may add keys; they are ignored.
  CHECK(DecodeCode(With("future_key", "future_key=whatever")) == Code::kOk);
}

TEST_CASE("malformed configs are corruption", "[unit][store]") {
  const std::string bad = GENERATE(
      std::string(""), std::string("ckpt-store"),  // no format_version
      std::string("not-a-store\nformat_version=1\n"),
      std::string("ckpt-store \nformat_version=1\nchunk_size=4096\nzstd_level=3\n"),
      Without("format_version"), With("format_version", "format_version=one"),  // non-numeric
      With("format_version", "format_version="),                                // empty value
      With("chunk_size", "chunk_size=12abc"),                                   // trailing junk
      With("chunk_size", "chunk_size= 4096"),                                   // leading space
      With("chunk_size", "chunk_size=-4096"),                                   // negative
      With("chunk_size", "chunk_size=4095"),                                    // below 4 KiB
      With("chunk_size", "chunk_size=67108865"),                                // above 64 MiB
      With("chunk_size", "chunk_size=4294967296"),            // 2^32 does not wrap to 0 and pass
      With("chunk_size", "chunk_size=99999999999999999999"),  // overflows int64
      Without("chunk_size"), With("chunk_size", ""),          // blank line
      With("zstd_level", "zstd_level=0"), With("zstd_level", "zstd_level=20"),
      With("zstd_level", "zstd_level=3x"), With("store_id", "store_id"));  // no '='
  INFO("config:\n" << bad);
  CHECK(DecodeCode(bad) == Code::kCorruption);
}

TEST_CASE("a config of a newer format is a version mismatch", "[unit][store]") {
  const std::string text =
      With("format_version", "format_version=" + std::to_string(ckpt::kFormatVersion + 1));
  CHECK(DecodeCode(text) == Code::kVersionMismatch);
  // Checked before the other fields, which a newer format may define differently.
  CHECK(DecodeCode(text + "chunk_size=1\n") == Code::kVersionMismatch);
}

// BUG: DecodeConfig range-checks numbers only against [0, 2^32] and then
// narrows to int, so format_version=4294967296 becomes 0 and
// format_version=2147483648 becomes INT_MIN; both pass the "> kFormatVersion"
// check and the config decodes as OK.
TEST_CASE("a huge format version is not truncated into an old one", "[unit][store]") {
  for (const char* version : {"4294967296", "4294967297", "2147483648"}) {
    INFO("format_version=" << version);
    const Code code = DecodeCode(With("format_version", std::string("format_version=") + version));
    CHECK(code != Code::kOk);
    CHECK((code == Code::kVersionMismatch || code == Code::kCorruption));
  }
}

TEST_CASE("configs of unreleased development formats are refused", "[unit][store]") {
  for (int version : {0, 1, 2, 3}) {
    INFO("format_version=" << version);
    StoreConfig c;
    const ckpt::Status s = DecodeConfig("ckpt-store\nformat_version=" + std::to_string(version) +
                                            "\nchunk_size=262144\nzstd_level=3\n"
                                            "store_id=00112233445566778899aabbccddeeff\n",
                                        &c);
    CHECK(s.code() == Code::kVersionMismatch);
    CHECK_THAT(s.ToString(), Catch::Contains("development format"));
  }
}
