// Fuzzes the chunk decoders with arbitrary bytes, codec id and declared
// raw length: DecodeChunk, DecodeDelta (against a fixed base), and below
// them DecodePlaneBody, RansDecode and ZstdFrom.
//
// Input: codec:u8 raw_size:u32 (low 18 bits: below 256 KiB) control:u8,
// then the encoded entry. Control bit 0 set: the harness first writes the
// true XXH3 checksum into a plane body (after the 32-byte base digest for
// delta codecs), so the fuzzer gets past it to the plane decoders.
//
// A decoder that accepts the bytes must produce exactly raw_size bytes:
// the output is decoded twice, into buffers filled with different bytes,
// and must come out the same, so every byte was written; and the output
// buffer has exactly raw_size bytes and ends at an inaccessible page, as
// the entry does, so any access past either faults, even from htscodecs and
// zstd, which are not instrumented.
#include <sys/mman.h>
#include <unistd.h>
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

// A region of memory followed by an inaccessible page: Tail(n) is n bytes
// that end where the page begins (never null, even for n = 0).
class Guarded {
 public:
  static constexpr size_t kCapacity = size_t{1} << 21;
  Guarded() {
    page_ = static_cast<size_t>(sysconf(_SC_PAGESIZE));
    void* p = mmap(nullptr, kCapacity + page_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
                   -1, 0);
    FUZZ_CHECK(p != MAP_FAILED);
    base_ = static_cast<uint8_t*>(p);
    FUZZ_CHECK(mprotect(base_ + kCapacity, page_, PROT_NONE) == 0);
  }
  uint8_t* Tail(size_t n) {
    FUZZ_CHECK(n <= kCapacity);
    return base_ + kCapacity - n;
  }

 private:
  size_t page_ = 0;
  uint8_t* base_ = nullptr;
};

Guarded& EntryMemory() {
  static Guarded g;
  return g;
}

// Runs `decode(dst)` into two differently pre-filled buffers of exactly
// `n` bytes; if it succeeds, both must agree. Returns its status.
template <typename Decode>
Status DecodeTwice(size_t n, Decode&& decode) {
  static Guarded first, second;
  uint8_t* a = first.Tail(n);
  uint8_t* b = second.Tail(n);
  std::memset(a, 0xAA, n);
  std::memset(b, 0x55, n);
  Status s = decode(a);
  Status t = decode(b);
  FUZZ_CHECK(s.ok() == t.ok());
  if (s.ok())
    FUZZ_CHECK(std::memcmp(a, b, n) == 0);
  else
    FUZZ_CHECK(s.code() == ckpt::Code::kCorruption && !s.message().empty());
  return s;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  ckpt::fuzz::Input in(data, size);
  const uint8_t codec_id = in.Byte();
  const size_t raw_size = in.U32() & 0x3FFFF;
  const uint8_t control = in.Byte();
  std::string encoded(in.Rest());
  const auto codec = static_cast<Codec>(codec_id);
  const bool delta = IsDeltaCodec(codec_id);

  if ((control & 1) && codec_detail::PlanesOf(codec) != 0) {  // a plane body: fix its checksum
    if (!delta) {
      FixChecksum(&encoded);
    } else if (encoded.size() > kDeltaHeaderSize) {
      std::string body = encoded.substr(kDeltaHeaderSize);
      FixChecksum(&body);
      encoded.replace(kDeltaHeaderSize, std::string::npos, body);
    }
  }
  // The entry ends at an inaccessible page: reads past it fault.
  const std::string_view entry_view(
      reinterpret_cast<const char*>(EntryMemory().Tail(encoded.size())), encoded.size());
  std::memcpy(const_cast<char*>(entry_view.data()), encoded.data(), encoded.size());
  const char* entry_data = entry_view.data();

  if (delta) {
    static const std::vector<uint8_t> kBase = [] {
      std::vector<uint8_t> b(0x40000);
      for (size_t i = 0; i < b.size(); ++i) b[i] = static_cast<uint8_t>(i * 131 + 7);
      return b;
    }();
    const std::vector<uint8_t> base(kBase.begin(), kBase.begin() + raw_size);
    (void)DeltaSelfChecked(codec, entry_view);
    Digest digest;
    Status b = DeltaBaseOf(entry_view, &digest);
    FUZZ_CHECK(b.ok() == (entry_view.size() >= kDeltaHeaderSize));
    Status s = DecodeTwice(raw_size, [&](uint8_t* dst) {
      return DecodeDelta(codec, entry_view, base.data(), dst, raw_size);
    });
    if (s.ok()) FUZZ_CHECK(b.ok());
    // In place: dst == base, as the loader does.
    std::vector<uint8_t> in_place = base;
    Status t = DecodeDelta(codec, entry_view, in_place.data(), in_place.data(), raw_size);
    FUZZ_CHECK(t.ok() == s.ok());
  } else {
    (void)ChunkSelfChecked(codec, entry_data, entry_view.size());
    Status s = DecodeTwice(raw_size, [&](uint8_t* dst) {
      return DecodeChunk(codec, entry_data, entry_view.size(), dst, raw_size);
    });
    if (s.ok() && codec == Codec::kRaw) FUZZ_CHECK(entry_view.size() == raw_size);
    if (!IsKnownCodec(codec_id)) FUZZ_CHECK(!s.ok());
  }

  // The layers below, on the same bytes.
  const auto* bytes = reinterpret_cast<const uint8_t*>(entry_data);
  switch ((control >> 1) & 3) {
    case 0: {
      const size_t k = size_t{2} << ((control >> 3) % 3);  // 2, 4, 8
      (void)DecodeTwice(raw_size, [&](uint8_t* dst) {
        return DecodePlaneBody(bytes, entry_view.size(), k, dst, raw_size);
      });
      break;
    }
    case 1:
      (void)DecodeTwice(raw_size, [&](uint8_t* dst) {
        return RansDecode(bytes, entry_view.size(), dst, raw_size) ? Status::OK()
                                                                   : Status::Corruption("rANS");
      });
      break;
    case 2:
      (void)DecodeTwice(raw_size, [&](uint8_t* dst) {
        return codec_detail::ZstdFrom(bytes, entry_view.size(), dst, raw_size);
      });
      break;
    default:
      break;
  }
  return 0;
}
