// util/bytes and util/hex: the byte layouts every on-disk structure is built
// from, and the reader that must fail, never overrun, on bad input.
#include "util/bytes.h"

#include <catch2/catch.hpp>
#include <cstdint>
#include <string>

#include "util/hex.h"

using ckpt::internal::ByteReader;

TEST_CASE("varint round trips at the 7-bit boundaries", "[unit][util]") {
  const uint64_t value = GENERATE(uint64_t{0}, uint64_t{1}, uint64_t{127}, uint64_t{128},
                                  uint64_t{16383}, uint64_t{16384}, uint64_t{1} << 32, UINT64_MAX);
  std::string buf;
  ckpt::internal::PutVarint(&buf, value);
  // LEB128 needs ceil(bits / 7) bytes, at least one.
  size_t bits = 0;
  for (uint64_t v = value; v != 0; v >>= 1) ++bits;
  CHECK(buf.size() == (bits == 0 ? 1 : (bits + 6) / 7));

  ByteReader r(buf);
  uint64_t out = 0;
  REQUIRE(r.GetVarint(&out));
  CHECK(out == value);
  CHECK(r.AtEnd());
  CHECK(r.ok());
}

TEST_CASE("varint encodings of 127, 128 and 2^64-1 are exact", "[unit][util]") {
  std::string buf;
  ckpt::internal::PutVarint(&buf, 127);
  CHECK(buf == std::string("\x7f", 1));
  buf.clear();
  ckpt::internal::PutVarint(&buf, 128);
  CHECK(buf == std::string("\x80\x01", 2));
  buf.clear();
  ckpt::internal::PutVarint(&buf, UINT64_MAX);
  CHECK(buf == std::string(9, '\xff') + std::string("\x01", 1));
}

TEST_CASE("fixed32 and fixed64 are little-endian", "[unit][util]") {
  std::string buf;
  ckpt::internal::PutFixed32(&buf, 0x01020304u);
  ckpt::internal::PutFixed64(&buf, 0x0102030405060708ull);
  CHECK(buf == std::string("\x04\x03\x02\x01\x08\x07\x06\x05\x04\x03\x02\x01", 12));
  CHECK(ckpt::internal::DecodeFixed32(buf.data()) == 0x01020304u);
  CHECK(ckpt::internal::DecodeFixed64(buf.data() + 4) == 0x0102030405060708ull);

  ByteReader r(buf);
  uint32_t a = 0;
  uint64_t b = 0;
  REQUIRE(r.GetFixed32(&a));
  REQUIRE(r.GetFixed64(&b));
  CHECK(a == 0x01020304u);
  CHECK(b == 0x0102030405060708ull);
  CHECK(r.AtEnd());
}

TEST_CASE("ByteReader fails on truncated input and stays failed", "[unit][util]") {
  SECTION("fixed32 with two bytes left") {
    ByteReader r(std::string_view("\x01\x02", 2));
    uint32_t v = 0;
    CHECK_FALSE(r.GetFixed32(&v));
    CHECK_FALSE(r.ok());
    // The two bytes are still there, but a failed reader never yields more.
    uint8_t byte = 0;
    CHECK_FALSE(r.GetByte(&byte));
    CHECK(r.remaining() == 2);
  }
  SECTION("fixed64 with seven bytes left") {
    ByteReader r(std::string_view("1234567", 7));
    uint64_t v = 0;
    CHECK_FALSE(r.GetFixed64(&v));
    CHECK_FALSE(r.ok());
  }
  SECTION("varint cut after a continuation byte") {
    ByteReader r(std::string_view("\x80\x80", 2));
    uint64_t v = 0;
    CHECK_FALSE(r.GetVarint(&v));
    CHECK_FALSE(r.ok());
    CHECK_FALSE(r.GetVarint(&v));
  }
  SECTION("varint longer than ten bytes") {
    std::string buf(10, '\x80');
    buf.push_back('\x01');
    ByteReader r(buf);
    uint64_t v = 0;
    CHECK_FALSE(r.GetVarint(&v));
    CHECK_FALSE(r.ok());
  }
  SECTION("length prefix larger than the input") {
    std::string buf;
    ckpt::internal::PutVarint(&buf, 5);
    buf += "abc";
    ByteReader r(buf);
    std::string_view out;
    CHECK_FALSE(r.GetLengthPrefixed(&out));
    CHECK_FALSE(r.ok());
  }
  SECTION("length prefix of 2^64-1 does not wrap") {
    std::string buf;
    ckpt::internal::PutVarint(&buf, UINT64_MAX);
    buf += "abc";
    ByteReader r(buf);
    std::string_view out;
    CHECK_FALSE(r.GetLengthPrefixed(&out));
    CHECK_FALSE(r.ok());
  }
  SECTION("empty input") {
    ByteReader r(std::string_view{});
    uint8_t byte = 0;
    CHECK(r.AtEnd());
    CHECK_FALSE(r.GetByte(&byte));
    CHECK_FALSE(r.ok());
  }
}

TEST_CASE("length-prefixed strings round trip", "[unit][util]") {
  std::string buf;
  ckpt::internal::PutLengthPrefixed(&buf, "");
  ckpt::internal::PutLengthPrefixed(&buf, std::string(300, 'x'));
  ByteReader r(buf);
  std::string_view a, b;
  REQUIRE(r.GetLengthPrefixed(&a));
  REQUIRE(r.GetLengthPrefixed(&b));
  CHECK(a.empty());
  CHECK(b == std::string(300, 'x'));
  CHECK(r.AtEnd());
}

TEST_CASE("hex encodes lower-case and decodes either case", "[unit][util]") {
  const uint8_t bytes[] = {0x00, 0x0f, 0xa5, 0xff};
  CHECK(ckpt::internal::HexEncode(bytes, sizeof bytes) == "000fa5ff");
  CHECK(ckpt::internal::HexEncode(bytes, 0).empty());

  auto lower = ckpt::internal::HexDecode("000fa5ff");
  REQUIRE(lower.has_value());
  CHECK(*lower == std::vector<uint8_t>(bytes, bytes + 4));
  auto upper = ckpt::internal::HexDecode("000FA5FF");
  REQUIRE(upper.has_value());
  CHECK(*upper == *lower);
  auto empty = ckpt::internal::HexDecode("");
  REQUIRE(empty.has_value());
  CHECK(empty->empty());
}

TEST_CASE("hex decode rejects odd length and non-hex digits", "[unit][util]") {
  CHECK_FALSE(ckpt::internal::HexDecode("abc").has_value());
  CHECK_FALSE(ckpt::internal::HexDecode("zz").has_value());
  CHECK_FALSE(ckpt::internal::HexDecode("0g").has_value());
  CHECK_FALSE(ckpt::internal::HexDecode("00 1").has_value());
  CHECK_FALSE(ckpt::internal::HexDecode(std::string_view("0\0", 2)).has_value());
  CHECK_FALSE(ckpt::internal::IsHex("12x4"));
  CHECK(ckpt::internal::IsHex("09afAF"));
}

TEST_CASE("RandomHexId gives distinct hex ids of the asked size", "[unit][util]") {
  std::string a = ckpt::internal::RandomHexId(16);
  std::string b = ckpt::internal::RandomHexId(16);
  CHECK(a.size() == 32);
  CHECK(ckpt::internal::IsHex(a));
  CHECK(a != b);
}
