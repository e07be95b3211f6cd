// pack/pack_format, pack_writer, pack_reader: a pack written by PackWriter
// reads back entry for entry, and each kind of damage is reported as
// corruption (or a newer version), never misread.
#include "pack/pack_format.h"

#include <catch2/catch.hpp>
#include <cstring>
#include <string>
#include <vector>

#include "ckpt/backend.h"
#include "pack/pack_writer.h"
#include "test_util.h"
#include "util/bytes.h"

using ckpt::Code;
using ckpt::internal::EntryKind;
using ckpt::internal::PackEntry;

namespace {

struct WrittenPack {
  ckpt::test::TempDir dir;
  std::shared_ptr<ckpt::Backend> backend = ckpt::NewLocalBackend(dir.path());
  std::string id;
  std::vector<PackEntry> entries;
  std::vector<std::string> payloads;

  std::string Path() const { return dir.Sub(ckpt::internal::PackObjectName(id)); }
  std::vector<uint8_t> Bytes() const { return ckpt::test::ReadFileBytes(Path()); }
  void Rewrite(const std::vector<uint8_t>& bytes) const {
    ckpt::test::WriteFileBytes(Path(), bytes.data(), bytes.size());
  }
  ckpt::Status ReadIndex(std::vector<PackEntry>* out) const {
    uint64_t size = 0;
    return ckpt::internal::ReadPackIndex(*backend, id, out, &size);
  }
};

// A pack of three chunks and one manifest entry.
void WritePack(WrittenPack* pack) {
  ckpt::internal::PackWriter writer;
  pack->id = writer.id();
  for (int i = 0; i < 4; ++i) {
    auto bytes = ckpt::test::RandomBytes(100 + 37 * static_cast<size_t>(i), 50 + i);
    std::string payload(bytes.begin(), bytes.end());
    EntryKind kind = i == 3 ? EntryKind::kManifest : EntryKind::kChunk;
    pack->entries.push_back(writer.Add(kind, static_cast<uint8_t>(i % 2),
                                       ckpt::internal::Sha256(payload.data(), payload.size()),
                                       payload, static_cast<uint32_t>(payload.size() + i)));
    pack->payloads.push_back(payload);
  }
  REQUIRE(writer.Finish(*pack->backend).ok());
}

bool SameEntry(const PackEntry& a, const PackEntry& b) {
  return a.kind == b.kind && a.codec == b.codec && a.digest == b.digest && a.offset == b.offset &&
         a.length == b.length && a.raw_length == b.raw_length;
}

}  // namespace

TEST_CASE("ReadPackIndex returns what PackWriter wrote", "[unit][pack]") {
  WrittenPack pack;
  WritePack(&pack);
  CHECK(pack.id.size() == 32);
  CHECK(ckpt::internal::PackObjectName(pack.id) == "packs/" + pack.id.substr(0, 2) + "/" + pack.id);

  std::vector<PackEntry> entries;
  uint64_t size = 0;
  REQUIRE(ckpt::internal::ReadPackIndex(*pack.backend, pack.id, &entries, &size).ok());
  CHECK(size == pack.Bytes().size());
  REQUIRE(entries.size() == pack.entries.size());
  for (size_t i = 0; i < entries.size(); ++i) {
    CHECK(SameEntry(entries[i], pack.entries[i]));
    std::string bytes;
    REQUIRE(ckpt::internal::ReadPackBytes(*pack.backend, pack.id, entries[i].offset,
                                          entries[i].length, &bytes)
                .ok());
    CHECK(bytes == pack.payloads[i]);
  }
  // Layout: header, entries back to back, 50-byte records, 56-byte trailer.
  CHECK(entries.front().offset == ckpt::internal::kPackHeaderSize);
  const uint64_t index_offset = entries.back().offset + entries.back().length;
  CHECK(size ==
        index_offset + 4 * ckpt::internal::kPackRecordSize + ckpt::internal::kPackTrailerSize);
  CHECK(std::memcmp(pack.Bytes().data(), "CKPTPACK", 8) == 0);
}

TEST_CASE("damaged packs are reported as corruption", "[unit][pack]") {
  WrittenPack pack;
  WritePack(&pack);
  std::vector<uint8_t> bytes = pack.Bytes();
  const size_t n = bytes.size();
  std::vector<PackEntry> out;

  SECTION("trailer magic") {
    bytes[n - 1] ^= 0x01;
    pack.Rewrite(bytes);
    CHECK(pack.ReadIndex(&out).code() == Code::kCorruption);
  }
  SECTION("index record byte") {
    bytes[n - ckpt::internal::kPackTrailerSize - 10] ^= 0x40;
    pack.Rewrite(bytes);
    ckpt::Status s = pack.ReadIndex(&out);
    CHECK(s.code() == Code::kCorruption);
    CHECK_THAT(s.message(), Catch::Contains("checksum") && Catch::Contains(pack.id));
  }
  SECTION("stored index checksum") {
    bytes[n - 9] ^= 0x80;  // last byte of index_sha256
    pack.Rewrite(bytes);
    CHECK(pack.ReadIndex(&out).code() == Code::kCorruption);
  }
  SECTION("entry count in the trailer") {
    bytes[n - ckpt::internal::kPackTrailerSize + 8] ^= 0x01;
    pack.Rewrite(bytes);
    CHECK(pack.ReadIndex(&out).code() == Code::kCorruption);
  }
  SECTION("header magic") {
    bytes[0] = 'X';
    pack.Rewrite(bytes);
    CHECK(pack.ReadIndex(&out).code() == Code::kCorruption);
  }
  SECTION("truncated file") {
    for (size_t keep : {size_t{0}, size_t{10}, size_t{72}, n / 2, n - 56, n - 1}) {
      pack.Rewrite(std::vector<uint8_t>(bytes.begin(), bytes.begin() + static_cast<long>(keep)));
      INFO("kept " << keep << " of " << n << " bytes");
      CHECK(pack.ReadIndex(&out).code() == Code::kCorruption);
    }
  }
  SECTION("missing pack") {
    ckpt::internal::PackWriter unwritten;
    uint64_t size = 0;
    CHECK(ckpt::internal::ReadPackIndex(*pack.backend, unwritten.id(), &out, &size).code() ==
          Code::kNotFound);
  }
}

TEST_CASE("a pack header with a newer version is a version mismatch", "[unit][pack]") {
  WrittenPack pack;
  WritePack(&pack);
  std::vector<uint8_t> bytes = pack.Bytes();
  bytes[8] = static_cast<uint8_t>(ckpt::internal::kPackVersion + 1);
  pack.Rewrite(bytes);
  std::vector<PackEntry> out;
  CHECK(pack.ReadIndex(&out).code() == Code::kVersionMismatch);

  std::string header = ckpt::internal::EncodePackHeader();
  CHECK(ckpt::internal::CheckPackHeader(header).ok());
  header[8] = 2;
  CHECK(ckpt::internal::CheckPackHeader(header).code() == Code::kVersionMismatch);
  CHECK(ckpt::internal::CheckPackHeader(header.substr(0, 15)).code() == Code::kCorruption);
}

TEST_CASE("an index entry of unknown kind is corruption", "[unit][pack]") {
  PackEntry e;
  e.offset = ckpt::internal::kPackHeaderSize;
  e.length = 4;
  std::string pack = ckpt::internal::EncodePackHeader() + "abcd";
  ckpt::internal::AppendPackIndex({e}, pack.size(), &pack);
  pack[20] = 2;  // the kind byte of the only record
  // Re-sign the index so that only the kind is wrong.
  ckpt::internal::Digest sum = ckpt::internal::Sha256(pack.data() + 20, 50);
  std::memcpy(pack.data() + pack.size() - 40, sum.bytes.data(), 32);

  ckpt::internal::PackTrailer trailer;
  const std::string_view all(pack);
  REQUIRE(
      ckpt::internal::DecodePackTrailer(all.substr(all.size() - 56), all.size(), &trailer).ok());
  std::vector<PackEntry> out;
  CHECK(ckpt::internal::DecodePackIndex(all.substr(20, 50), trailer, all.size(), &out).code() ==
        Code::kCorruption);
}

// BUG: DecodePackTrailer computes index_offset + entry_count * 50 in uint64
// without an overflow check, so a trailer whose index_offset wraps around to
// land on file_size - 56 is accepted; ReadPackIndex then reads at a negative
// off_t and reports kIOError instead of kCorruption.
TEST_CASE("a trailer whose index offset wraps around is corruption", "[unit][pack]") {
  WrittenPack pack;
  WritePack(&pack);
  std::vector<uint8_t> bytes = pack.Bytes();
  const uint64_t n = bytes.size();
  ckpt::internal::PackTrailer trailer;
  REQUIRE(
      ckpt::internal::DecodePackTrailer(
          std::string_view(reinterpret_cast<const char*>(bytes.data()) + n - 56, 56), n, &trailer)
          .ok());
  // index_offset + entry_count * 50 == n - 56 (mod 2^64), with index_offset huge.
  const uint64_t wrapped = (n - 56) - uint64_t{trailer.entry_count + 1000} * 50;
  std::string field;
  ckpt::internal::PutFixed64(&field, wrapped);
  std::string count;
  ckpt::internal::PutFixed32(&count, trailer.entry_count + 1000);
  std::memcpy(bytes.data() + n - 56, field.data(), 8);
  std::memcpy(bytes.data() + n - 48, count.data(), 4);

  ckpt::internal::PackTrailer decoded;
  CHECK(ckpt::internal::DecodePackTrailer(
            std::string_view(reinterpret_cast<const char*>(bytes.data()) + n - 56, 56), n, &decoded)
            .code() == Code::kCorruption);
  pack.Rewrite(bytes);
  std::vector<PackEntry> out;
  CHECK(pack.ReadIndex(&out).code() == Code::kCorruption);
}

// BUG: DecodePackIndex checks e.offset + e.length > index_offset in uint64,
// so an entry at offset 2^64 - 2 (sum wraps to 2) passes as "inside the pack".
TEST_CASE("an index entry whose end wraps around is corruption", "[unit][pack]") {
  PackEntry e;
  e.offset = UINT64_MAX - 1;
  e.length = 4;
  std::string pack = ckpt::internal::EncodePackHeader() + "abcd";
  ckpt::internal::AppendPackIndex({e}, pack.size(), &pack);
  const std::string_view all(pack);
  ckpt::internal::PackTrailer trailer;
  REQUIRE(
      ckpt::internal::DecodePackTrailer(all.substr(all.size() - 56), all.size(), &trailer).ok());
  std::vector<PackEntry> out;
  CHECK(ckpt::internal::DecodePackIndex(all.substr(20, 50), trailer, all.size(), &out).code() ==
        Code::kCorruption);
}

TEST_CASE("a pack written in the buffer of an earlier one reads back", "[unit][pack]") {
  ckpt::test::TempDir dir;
  auto backend = ckpt::NewLocalBackend(dir.path());
  // 3 MiB of entries: big enough for the local backend to write the
  // buffer with O_DIRECT from where it is.
  auto write = [&](ckpt::internal::AlignedBuffer reuse, uint64_t seed, size_t count,
                   std::vector<std::string>* payloads, std::vector<PackEntry>* entries) {
    ckpt::internal::PackWriter writer(4 << 20, std::move(reuse));
    for (size_t i = 0; i < count; ++i) {
      auto bytes = ckpt::test::RandomBytes(256 * 1024 + i, seed + i);
      payloads->emplace_back(bytes.begin(), bytes.end());
      entries->push_back(writer.Add(EntryKind::kChunk, 0,
                                    ckpt::internal::Sha256(bytes.data(), bytes.size()),
                                    payloads->back(), static_cast<uint32_t>(bytes.size())));
    }
    REQUIRE(writer.Finish(*backend).ok());
    return std::make_pair(writer.id(), writer.TakeBuffer());
  };
  std::vector<std::string> first_payloads, second_payloads;
  std::vector<PackEntry> first_entries, second_entries;
  auto [first_id, buffer] = write({}, 1, 12, &first_payloads, &first_entries);
  CHECK(buffer.size() == 0);
  CHECK(buffer.capacity() >= 3u << 20);
  const char* memory = buffer.data();
  // Fewer entries than the first pack: stale bytes past them must not leak.
  auto [second_id, again] = write(std::move(buffer), 100, 5, &second_payloads, &second_entries);
  CHECK(again.data() == memory);
  for (const auto& [id, payloads, entries] :
       {std::tie(first_id, first_payloads, first_entries),
        std::tie(second_id, second_payloads, second_entries)}) {
    std::vector<PackEntry> read;
    uint64_t size = 0;
    REQUIRE(ckpt::internal::ReadPackIndex(*backend, id, &read, &size).ok());
    REQUIRE(read.size() == entries.size());
    for (size_t i = 0; i < read.size(); ++i) {
      CHECK(SameEntry(read[i], entries[i]));
      std::string bytes;
      REQUIRE(
          ckpt::internal::ReadPackBytes(*backend, id, read[i].offset, read[i].length, &bytes).ok());
      CHECK(bytes == payloads[i]);
    }
  }
}
