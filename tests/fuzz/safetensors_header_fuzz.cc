// Fuzzes ParseSafetensorsHeader with the input as a whole safetensors file.
// A header it accepts must tile the data buffer exactly with tensors whose
// sizes match their dtype and shape, and must survive a re-encode: the
// canonical header parses back to the same tensors and metadata.
#include <cstdint>
#include <string>

#include "fuzz_util.h"
#include "safetensors/safetensors_header.h"

using namespace ckpt::internal;

namespace {

bool SameEntries(const SafetensorsHeader& a, const SafetensorsHeader& b) {
  if (a.entries.size() != b.entries.size() || a.metadata != b.metadata) return false;
  for (size_t i = 0; i < a.entries.size(); ++i) {
    const SafetensorsEntry &x = a.entries[i], &y = b.entries[i];
    if (x.name != y.name || x.dtype != y.dtype || x.shape != y.shape || x.begin != y.begin ||
        x.end != y.end)
      return false;
  }
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view file(reinterpret_cast<const char*>(data), size);
  auto parsed = ParseSafetensorsHeader(file, size);
  if (!parsed.ok()) {
    FUZZ_CHECK(!parsed.status().message().empty());
    return 0;
  }
  const SafetensorsHeader& h = *parsed;
  FUZZ_CHECK(h.data_start() <= size);
  const uint64_t data_length = size - h.data_start();
  uint64_t pos = 0;
  for (const SafetensorsEntry& e : h.entries) {
    FUZZ_CHECK(!e.name.empty());
    FUZZ_CHECK(e.begin == pos && e.begin <= e.end && e.end <= data_length);
    uint64_t bytes = DTypeSize(e.dtype);
    for (int64_t d : e.shape) {
      FUZZ_CHECK(d >= 0);
      FUZZ_CHECK(!__builtin_mul_overflow(bytes, static_cast<uint64_t>(d), &bytes));
    }
    FUZZ_CHECK(bytes == e.size());
    pos = e.end;
  }
  FUZZ_CHECK(pos == data_length);

  auto encoded = EncodeSafetensorsHeader(h.entries, h.metadata);
  FUZZ_CHECK(encoded.ok());
  FUZZ_CHECK((encoded->size() % 8) == 0);
  std::string again = *encoded;
  again.append(data_length, '\0');
  auto reparsed = ParseSafetensorsHeader(again, again.size());
  FUZZ_CHECK(reparsed.ok());
  FUZZ_CHECK(reparsed->data_start() == encoded->size());
  FUZZ_CHECK(SameEntries(h, *reparsed));
  return 0;
}
