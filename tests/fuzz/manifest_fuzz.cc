// Fuzzes DecodeManifest. A manifest it accepts must have, for every entry,
// exactly the chunks that cover its bytes at the manifest's chunk span, and
// must re-encode to bytes that decode to the same manifest (compared by
// re-encoding once more, so NaN metrics compare by their bits). Of a
// sharded manifest, the reader's view must either be refused or place every
// piece's bytes inside the piece and inside the tensor it belongs to.
#include <cstdint>
#include <string>

#include "chunk/chunker.h"
#include "fuzz_util.h"
#include "manifest/box.h"
#include "manifest/entry_view.h"
#include "manifest/manifest_codec.h"

using namespace ckpt::internal;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view bytes(reinterpret_cast<const char*>(data), size);
  Manifest m;
  ckpt::Status s = DecodeManifest(bytes, &m);
  if (!s.ok()) {
    FUZZ_CHECK(s.code() == ckpt::Code::kCorruption || s.code() == ckpt::Code::kVersionMismatch);
    return 0;
  }
  FUZZ_CHECK(m.chunk_size > 0);
  for (const ManifestEntry& e : m.entries) {
    const uint64_t span = m.SpanOf(e);
    FUZZ_CHECK(span > 0);
    const uint64_t n = e.chunks.size();
    // The chunks cover the entry: n spans reach its end, n - 1 do not.
    FUZZ_CHECK(n == 0 ? e.byte_length == 0 : e.byte_length > (n - 1) * span);
    FUZZ_CHECK(n <= UINT64_MAX / span && n * span >= e.byte_length);
    // The reader's way to find the chunk of the last byte stays in the list.
    if (e.byte_length > 0) FUZZ_CHECK((e.byte_length - 1) / span < n);
    for (uint64_t i = 0; i < n; ++i) FUZZ_CHECK(ChunkLength(e.byte_length, span, i) <= span);
  }
  auto views = ViewEntries(m);
  if (views.ok()) {
    for (const EntryView& v : *views) {
      if (!v.pieced) continue;
      const uint64_t elem = ckpt::DTypeSize(v.dtype);
      const Box whole{std::vector<int64_t>(v.shape.size(), 0), v.shape};
      for (size_t i : v.parts) {
        const ManifestEntry& e = m.entries[i];
        for (const ByteRun& r : SharedRuns({e.offsets, e.shape}, whole, elem)) {
          FUZZ_CHECK(r.src + r.length <= e.byte_length);
          FUZZ_CHECK(r.dst + r.length <= v.byte_length);
        }
      }
    }
  } else {
    FUZZ_CHECK(views.status().code() == ckpt::Code::kCorruption);
  }
  const std::string encoded = EncodeManifest(m);
  Manifest back;
  FUZZ_CHECK(DecodeManifest(encoded, &back).ok());
  FUZZ_CHECK(EncodeManifest(back) == encoded);
  FUZZ_CHECK(back.run == m.run && back.step == m.step && back.entries.size() == m.entries.size());
  return 0;
}
