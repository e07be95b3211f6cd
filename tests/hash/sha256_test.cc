// hash/sha256: chunk names are SHA-256 digests; check the published vectors
// and the hex form used in object names and messages.
#include "hash/sha256.h"

#include <catch2/catch.hpp>
#include <cctype>
#include <string>

using ckpt::internal::Digest;
using ckpt::internal::Sha256;

TEST_CASE("SHA-256 matches the FIPS 180-2 vectors", "[unit][hash]") {
  CHECK(Sha256("", 0).Hex() == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  CHECK(Sha256("abc", 3).Hex() ==
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  const std::string two_blocks = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
  CHECK(Sha256(two_blocks.data(), two_blocks.size()).Hex() ==
        "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
}

TEST_CASE("Digest hex round trips and rejects bad hex", "[unit][hash]") {
  const Digest d = Sha256("abc", 3);
  CHECK(d.ShortHex() == "ba7816bf8f01");

  Digest back;
  REQUIRE(Digest::FromHex(d.Hex(), &back));
  CHECK(back == d);
  // Upper case is accepted too.
  std::string upper = d.Hex();
  for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  Digest from_upper;
  REQUIRE(Digest::FromHex(upper, &from_upper));
  CHECK(from_upper == d);

  Digest unused;
  CHECK_FALSE(Digest::FromHex(d.Hex().substr(0, 62), &unused));  // too short
  CHECK_FALSE(Digest::FromHex(d.Hex() + "00", &unused));         // too long
  std::string bad = d.Hex();
  bad[10] = 'g';
  CHECK_FALSE(Digest::FromHex(bad, &unused));
}

TEST_CASE("Digest view round trips and orders by bytes", "[unit][hash]") {
  const Digest a = Sha256("a", 1);
  const Digest b = Sha256("b", 1);
  CHECK(a.View().size() == Digest::kSize);
  CHECK(Digest::FromView(a.View()) == a);
  CHECK(a != b);
  CHECK((a < b) == (a.View() < b.View()));
  CHECK(ckpt::internal::DigestHash()(a) != ckpt::internal::DigestHash()(b));
}
