// Fuzzes the reading of a pack's header, trailer and index (ReadPackIndex,
// through an in-memory backend holding the input as the pack file).
//
// Input: a control byte, then the pack file. Control bit 0 set: the
// harness first writes the true SHA-256 of the index bytes the trailer
// names into the trailer, so that the fuzzer gets past the checksum to the
// record checks. An index it accepts must name entries that lie between
// the header and the index, and must re-encode (AppendPackIndex) to the
// same records and trailer.
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "ckpt/backend.h"
#include "fuzz_util.h"
#include "pack/pack_format.h"
#include "pack/pack_writer.h"
#include "util/bytes.h"

using namespace ckpt::internal;
using ckpt::Result;
using ckpt::Status;

namespace {

// One object in memory; enough of a Backend for ReadPackIndex.
class MemoryBackend : public ckpt::Backend {
 public:
  explicit MemoryBackend(std::map<std::string, std::string> objects)
      : objects_(std::move(objects)) {}
  Status Put(const std::string& name, const void* data, size_t size) override {
    objects_[name].assign(static_cast<const char*>(data), size);
    return Status::OK();
  }
  Status Get(const std::string& name, uint64_t offset, size_t length, void* dst) override {
    auto it = objects_.find(name);
    if (it == objects_.end()) return Status::NotFound(name);
    FUZZ_CHECK(offset <= it->second.size() && length <= it->second.size() - offset);
    if (length) std::memcpy(dst, it->second.data() + offset, length);
    return Status::OK();
  }
  Result<uint64_t> Size(const std::string& name) override {
    auto it = objects_.find(name);
    if (it == objects_.end()) return Status::NotFound(name);
    return uint64_t{it->second.size()};
  }
  Result<std::vector<std::string>> List(const std::string&) override {
    return std::vector<std::string>();
  }
  Status Remove(const std::string& name) override {
    objects_.erase(name);
    return Status::OK();
  }
  std::string Describe() const override { return "memory"; }

 private:
  std::map<std::string, std::string> objects_;
};

const std::string kPackId = "00112233445566778899aabbccddeeff";

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  ckpt::fuzz::Input in(data, size);
  const uint8_t control = in.Byte();
  std::string file(in.Rest());
  if ((control & 1) && file.size() >= kPackHeaderSize + kPackTrailerSize) {
    const uint64_t trailer_at = file.size() - kPackTrailerSize;
    const uint64_t index_offset = DecodeFixed64(file.data() + trailer_at);
    if (index_offset <= trailer_at) {
      Digest d = Sha256(file.data() + index_offset, trailer_at - index_offset);
      std::memcpy(file.data() + trailer_at + 16, d.bytes.data(), Digest::kSize);
    }
  }
  MemoryBackend backend({{PackObjectName(kPackId), file}});
  std::vector<PackEntry> entries;
  uint64_t file_size = 0;
  Status s = ReadPackIndex(backend, kPackId, &entries, &file_size);
  if (!s.ok()) {
    FUZZ_CHECK(s.code() == ckpt::Code::kCorruption || s.code() == ckpt::Code::kVersionMismatch);
    return 0;
  }
  FUZZ_CHECK(file_size == file.size());
  FUZZ_CHECK(CheckPackHeader(file).ok());
  const uint64_t index_offset = file_size - kPackTrailerSize - entries.size() * kPackRecordSize;
  FUZZ_CHECK(index_offset >= kPackHeaderSize);
  for (const PackEntry& e : entries) {
    FUZZ_CHECK(e.kind == EntryKind::kChunk || e.kind == EntryKind::kManifest);
    FUZZ_CHECK(e.offset >= kPackHeaderSize && e.offset <= index_offset);
    FUZZ_CHECK(e.length <= index_offset - e.offset);
    std::string bytes;
    FUZZ_CHECK(ReadPackBytes(backend, kPackId, e.offset, e.length, &bytes).ok());
  }
  // Re-encoding gives the same records and trailer (but for its reserved word).
  std::string tail;
  AppendPackIndex(entries, index_offset, &tail);
  const std::string_view original = std::string_view(file).substr(index_offset);
  FUZZ_CHECK(tail.size() == original.size());
  const size_t reserved = tail.size() - kPackTrailerSize + 12;
  FUZZ_CHECK(tail.compare(0, reserved, original.substr(0, reserved)) == 0);
  FUZZ_CHECK(tail.compare(reserved + 4, std::string::npos, original.substr(reserved + 4)) == 0);
  return 0;
}
