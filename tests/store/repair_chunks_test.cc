// store/repair_chunks: which copy of a chunk found in several packs repair
// indexes, and the depths it recomputes down delta chains.
#include "store/repair_chunks.h"

#include <catch2/catch.hpp>
#include <map>
#include <string>

#include "codec/chunk_codec.h"
#include "hash/sha256.h"
#include "repo/config.h"

using namespace ckpt;
using namespace ckpt::internal;

namespace {

Digest D(int n) {
  std::string s = "chunk " + std::to_string(n);
  return Sha256(s.data(), s.size());
}

PackEntry Entry(int n, uint64_t offset, uint32_t length) {
  PackEntry e;
  e.digest = D(n);
  e.offset = offset;
  e.length = length;
  e.raw_length = 4096;
  e.codec = static_cast<uint8_t>(Codec::kDeltaXor);
  return e;
}

// Indexes the deltas; returns the locations indexed by chunk number, of
// chunks 0..n-1, and the count of those with no sound chain.
std::pair<std::map<int, ChunkLocation>, uint64_t> IndexAll(RepairChunks& chunks, int n) {
  std::map<Digest, int> numbers;
  for (int i = 0; i < n; ++i) numbers[D(i)] = i;
  std::map<int, ChunkLocation> indexed;
  auto unrecoverable = chunks.IndexDeltas([&](const Digest& d, const ChunkLocation& loc) {
    indexed[numbers.at(d)] = loc;
    return Status::OK();
  });
  REQUIRE(unrecoverable.ok());
  return {indexed, *unrecoverable};
}

}  // namespace

TEST_CASE("repair indexes the last whole copy, else the first delta copy", "[unit][repair]") {
  RepairChunks chunks;
  chunks.AddPack("aa");
  chunks.AddWhole(Entry(1, 0, 100));
  chunks.AddDelta(Entry(2, 100, 10), D(1));
  chunks.AddDelta(Entry(3, 110, 20), D(1));
  chunks.AddPack("bb");
  chunks.AddWhole(Entry(1, 0, 101));         // a later whole copy
  chunks.AddDelta(Entry(2, 200, 11), D(1));  // a later delta copy
  chunks.AddWhole(Entry(3, 300, 300));       // a whole copy beside a delta
  chunks.Finish();
  auto [indexed, unrecoverable] = IndexAll(chunks, 4);
  CHECK(unrecoverable == 0);
  REQUIRE(indexed.size() == 1);
  CHECK(indexed[2].pack_id == "aa");
  CHECK(indexed[2].offset == 100);
  CHECK(indexed[2].base == D(1));
  CHECK(indexed[2].depth == 1);
  uint32_t length = 0;
  REQUIRE(chunks.MarkSeen(D(1), &length));
  CHECK(length == 101);
  REQUIRE(chunks.MarkSeen(D(2), &length));
  CHECK(length == 10);
  REQUIRE(chunks.MarkSeen(D(3), &length));
  CHECK(length == 300);
  CHECK_FALSE(chunks.MarkSeen(D(1), &length));
  CHECK_FALSE(chunks.Readable(D(0)));
}

TEST_CASE("repair recomputes delta depths and drops broken chains", "[unit][repair]") {
  RepairChunks chunks;
  chunks.AddPack("aa");
  chunks.AddWhole(Entry(0, 0, 100));
  // 1 <- 2 <- 3 on whole chunk 0; 4 on missing chunk 99; 5 <-> 6 a cycle.
  chunks.AddDelta(Entry(3, 30, 10), D(2));
  chunks.AddDelta(Entry(2, 20, 10), D(1));
  chunks.AddDelta(Entry(1, 10, 10), D(0));
  chunks.AddDelta(Entry(4, 40, 10), D(99));
  chunks.AddDelta(Entry(5, 50, 10), D(6));
  chunks.AddDelta(Entry(6, 60, 10), D(5));
  chunks.Finish();
  auto [indexed, unrecoverable] = IndexAll(chunks, 7);
  CHECK(indexed.at(1).depth == 1);
  CHECK(indexed.at(2).depth == 2);
  CHECK(indexed.at(3).depth == 3);
  CHECK(indexed.at(3).base == D(2));
  CHECK(indexed.size() == 3);
  CHECK(unrecoverable == 3);
  CHECK(chunks.Readable(D(3)));
  CHECK_FALSE(chunks.Readable(D(4)));
  CHECK_FALSE(chunks.Readable(D(5)));
}

TEST_CASE("repair keeps delta chains within the depth bound", "[unit][repair]") {
  for (int length : {kMaxDeltaDepth, kMaxDeltaDepth + 1}) {
    RepairChunks chunks;
    chunks.AddPack("aa");
    chunks.AddWhole(Entry(0, 0, 100));
    for (int i = 1; i <= length; ++i) chunks.AddDelta(Entry(i, 100 * i, 10), D(i - 1));
    chunks.Finish();
    auto [indexed, unrecoverable] = IndexAll(chunks, length + 1);
    INFO("chain of " << length);
    if (length <= kMaxDeltaDepth) {
      CHECK(unrecoverable == 0);
      CHECK(indexed.at(length).depth == length);
    } else {
      CHECK(indexed.count(length) == 0);
      CHECK_FALSE(chunks.Readable(D(length)));
    }
  }
}
