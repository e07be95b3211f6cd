// Fuzzes the index's key and value decoders. Input: selector:u8, then the
// key or value bytes. Whatever decodes must re-encode to bytes that decode
// to the same thing (and, for keys, to the very same key).
#include <cstdint>
#include <string>

#include "codec/chunk_codec.h"
#include "fuzz_util.h"
#include "index/index_keys.h"
#include "manifest/manifest_codec.h"

using namespace ckpt::internal;

namespace {

bool Same(const ChunkLocation& a, const ChunkLocation& b) {
  return a.pack_id == b.pack_id && a.offset == b.offset && a.length == b.length &&
         a.raw_length == b.raw_length && a.codec == b.codec && a.depth == b.depth &&
         (!a.is_delta() || a.base == b.base);
}

void CheckLocation(const ChunkLocation& loc) {
  FUZZ_CHECK(loc.pack_id.size() == 32);
  FUZZ_CHECK(loc.is_delta() == IsDeltaCodec(loc.codec));
  const std::string encoded = EncodeChunkLocation(loc);
  ChunkLocation back;
  FUZZ_CHECK(DecodeChunkLocation(encoded, &back).ok());
  FUZZ_CHECK(Same(loc, back));
  FUZZ_CHECK(EncodeChunkLocation(back) == encoded);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  ckpt::fuzz::Input in(data, size);
  const uint8_t selector = in.Byte();
  const std::string_view bytes = in.Rest();
  switch (selector % 5) {
    case 0: {
      ChunkLocation loc;
      if (DecodeChunkLocation(bytes, &loc).ok()) CheckLocation(loc);
      break;
    }
    case 1: {
      CheckpointRecord rec;
      if (!DecodeCheckpointRecord(bytes, &rec).ok()) break;
      CheckLocation(rec.manifest_location);
      const std::string encoded = EncodeCheckpointRecord(rec);
      CheckpointRecord back;
      FUZZ_CHECK(DecodeCheckpointRecord(encoded, &back).ok());
      FUZZ_CHECK(back.new_bytes == rec.new_bytes && back.new_raw_bytes == rec.new_raw_bytes &&
                 back.shared_bytes == rec.shared_bytes && back.manifest == rec.manifest &&
                 Same(back.manifest_location, rec.manifest_location));
      Manifest m;  // as LoadCheckpoint does next
      (void)DecodeManifest(rec.manifest, &m);
      break;
    }
    case 2: {
      PackRecord rec;
      if (!DecodePackRecord(bytes, &rec).ok()) break;
      PackRecord back;
      FUZZ_CHECK(DecodePackRecord(EncodePackRecord(rec), &back).ok());
      FUZZ_CHECK(back.size == rec.size && back.entry_count == rec.entry_count);
      break;
    }
    case 3: {
      std::string run;
      uint64_t step = 0;
      if (!ParseRunStepKey(bytes, &run, &step)) break;
      FUZZ_CHECK(RunStepKey(run, step) == bytes);
      FUZZ_CHECK(bytes.substr(0, run.size() + 2) == RunPrefix(run));
      break;
    }
    default: {
      // PackIdOfKey's keys come from scans of the 'P', 'D' and 'G' prefixes.
      if (bytes.empty() || (bytes[0] != 'P' && bytes[0] != 'D' && bytes[0] != 'G')) break;
      const std::string id = PackIdOfKey(bytes);
      FUZZ_CHECK(id.size() == 2 * (bytes.size() - 1));
      if (bytes.size() == 17) {
        FUZZ_CHECK(PackKey(id).substr(1) == bytes.substr(1));
        FUZZ_CHECK(CondemnedKey(id) == "D" + std::string(bytes.substr(1)));
        FUZZ_CHECK(GoneKey(id) == "G" + std::string(bytes.substr(1)));
      }
      break;
    }
  }
  return 0;
}
