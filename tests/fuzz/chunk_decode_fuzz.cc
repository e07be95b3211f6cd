// Fuzzes the chunk decoders with arbitrary bytes, codec id and declared
// raw length: DecodeChunk, DecodeDelta (against a fixed base), and below
// them DecodePlaneBody, RansDecode and ZstdFrom.
//
// Input: codec:u8 raw_size:u32 (low 20 bits: at most 1 MiB) control:u8,
// then the encoded entry. Control bit 0 set: the harness first writes the
// true XXH3 checksum into a plane body (after the 32-byte base digest for
// delta codecs), so the fuzzer gets past it to the plane decoders.
//
// A decoder that accepts the bytes must produce exactly raw_size bytes:
// the output is decoded twice, into buffers filled with different bytes,
// and must come out the same, so every byte was written; and the output
// buffer has exactly raw_size bytes, so AddressSanitizer sees any write
// past it.
#include <xxhash.h>

#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "codec/chunk_codec.h"
#include "codec/delta_codec.h"
#include "codec/plane_coder.h"
#include "codec/rans_coder.h"
#include "fuzz_util.h"

using namespace ckpt::internal;
using ckpt::Status;

namespace {

void FixChecksum(std::string* body) {
  if (body->size() < 8) return;
  const uint64_t sum = XXH3_64bits(body->data() + 8, body->size() - 8);
  for (int i = 0; i < 8; ++i) (*body)[i] = static_cast<char>(sum >> (8 * i));
}

// Runs `decode(dst)` into two differently pre-filled buffers of exactly
// `n` bytes; if it succeeds, both must agree. Returns its status.
// (new[] of 0 bytes is a valid pointer, as every caller's buffer is.)
template <typename Decode>
Status DecodeTwice(size_t n, Decode&& decode) {
  std::unique_ptr<uint8_t[]> a(new uint8_t[n]), b(new uint8_t[n]);
  std::memset(a.get(), 0xAA, n);
  std::memset(b.get(), 0x55, n);
  Status s = decode(a.get());
  Status t = decode(b.get());
  FUZZ_CHECK(s.ok() == t.ok());
  if (s.ok()) FUZZ_CHECK(std::memcmp(a.get(), b.get(), n) == 0);
  else FUZZ_CHECK(s.code() == ckpt::Code::kCorruption && !s.message().empty());
  return s;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  ckpt::fuzz::Input in(data, size);
  const uint8_t codec_id = in.Byte();
  const size_t raw_size = in.U32() & 0xFFFFF;
  const uint8_t control = in.Byte();
  std::string encoded(in.Rest());
  const auto codec = static_cast<Codec>(codec_id);
  const bool delta = IsDeltaCodec(codec_id);

  if ((control & 1) && codec_detail::HasPlaneBody(codec)) {
    if (!delta) {
      FixChecksum(&encoded);
    } else if (encoded.size() > kDeltaHeaderSize) {
      std::string body = encoded.substr(kDeltaHeaderSize);
      FixChecksum(&body);
      encoded.replace(kDeltaHeaderSize, std::string::npos, body);
    }
  }
  // Exactly sized copy of the entry: reads past it are caught.
  std::vector<char> entry(encoded.begin(), encoded.end());
  const char* entry_data = entry.empty() ? "" : entry.data();

  if (delta) {
    std::vector<uint8_t> base(raw_size);
    for (size_t i = 0; i < raw_size; ++i) base[i] = static_cast<uint8_t>(i * 131 + 7);
    (void)DeltaSelfChecked(codec, std::string_view(entry_data, entry.size()));
    Digest digest;
    Status b = DeltaBaseOf(std::string_view(entry_data, entry.size()), &digest);
    FUZZ_CHECK(b.ok() == (entry.size() >= kDeltaHeaderSize));
    Status s = DecodeTwice(raw_size, [&](uint8_t* dst) {
      return DecodeDelta(codec, std::string_view(entry_data, entry.size()), base.data(), dst,
                         raw_size);
    });
    if (s.ok()) FUZZ_CHECK(b.ok());
    // In place: dst == base, as the loader does.
    std::vector<uint8_t> in_place = base;
    Status t = DecodeDelta(codec, std::string_view(entry_data, entry.size()), in_place.data(),
                           in_place.data(), raw_size);
    FUZZ_CHECK(t.ok() == s.ok());
  } else {
    (void)ChunkSelfChecked(codec, entry_data, entry.size());
    Status s = DecodeTwice(raw_size, [&](uint8_t* dst) {
      return DecodeChunk(codec, entry_data, entry.size(), dst, raw_size);
    });
    if (s.ok() && codec == Codec::kRaw) FUZZ_CHECK(entry.size() == raw_size);
    if (!IsKnownCodec(codec_id)) FUZZ_CHECK(!s.ok());
  }

  // The layers below, on the same bytes.
  const auto* bytes = reinterpret_cast<const uint8_t*>(entry_data);
  switch ((control >> 1) & 3) {
    case 0: {
      const size_t k = size_t{2} << ((control >> 3) % 3);  // 2, 4, 8
      (void)DecodeTwice(raw_size, [&](uint8_t* dst) {
        return DecodePlaneBody(bytes, entry.size(), k, dst, raw_size);
      });
      break;
    }
    case 1:
      (void)DecodeTwice(raw_size, [&](uint8_t* dst) {
        return RansDecode(bytes, entry.size(), dst, raw_size) ? Status::OK()
                                                              : Status::Corruption("rANS");
      });
      break;
    case 2:
      (void)DecodeTwice(raw_size, [&](uint8_t* dst) {
        return codec_detail::ZstdFrom(bytes, entry.size(), dst, raw_size);
      });
      break;
    default:
      break;
  }
  return 0;
}
