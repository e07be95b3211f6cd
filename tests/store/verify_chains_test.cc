// Verify's checks of delta chains, on an index edited into the damage they
// look for: a base missing from the index, named or not, and a link whose
// base is not shallower than its delta.
#include <catch2/catch.hpp>
#include <functional>
#include <map>

#include "index/index.h"
#include "repo/store_context.h"
#include "store/store_fixture.h"

using namespace ckpt;
using namespace ckpt::test;
using internal::ChunkLocation;
using internal::Digest;

namespace {

constexpr size_t kBytes = 256 * 1024;  // four 64 KiB chunks

// Step `step` of a float tensor whose low bytes change at every step, so
// that each of its chunks is stored as a delta against the step before.
std::vector<uint8_t> Weights(uint64_t step) {
  auto bytes = RandomBytes(kBytes, 5);
  for (uint64_t s = 1; s <= step; ++s) {
    auto noise = RandomBytes(kBytes / 4, 100 + s);
    for (size_t i = 0; i < kBytes / 4; ++i) bytes[i * 4] ^= noise[i];
  }
  return bytes;
}

// A chain of three versions of one chunk: d2 (run@2) over d1 (run@1) over
// b0 (run@0, stored whole).
struct Chain {
  Digest d2, d1, b0;
};

std::map<Digest, ChunkLocation> IndexedChunks(internal::Index& index) {
  std::map<Digest, ChunkLocation> chunks;
  REQUIRE(index
              .Scan(internal::kChunkKeys,
                    [&](std::string_view k, std::string_view v) {
                      ChunkLocation loc;
                      REQUIRE(internal::DecodeChunkLocation(v, &loc).ok());
                      chunks[Digest::FromView(k.substr(1))] = loc;
                      return true;
                    })
              .ok());
  return chunks;
}

// Saves run@0, run@1 and run@2; returns one chain through them.
Chain SaveChain(const std::string& dir) {
  {
    StoreOptions options;
    options.delta_max_depth = 4;
    auto store = MustOpen(dir, options);
    for (uint64_t step = 0; step < 3; ++step) {
      const auto w = Weights(step);
      SaveRequest r;
      r.run = "run";
      r.step = step;
      r.tensors.push_back({"w", DType::kF32, {kBytes / 4}, w.data(), w.size()});
      REQUIRE(store->Save(r).ok());
    }
  }
  auto index = internal::Index::Open(internal::IndexDirOf(dir), false, true);
  REQUIRE(index.ok());
  const auto chunks = IndexedChunks(**index);
  for (const auto& [d, loc] : chunks) {
    if (loc.depth != 2) continue;
    const ChunkLocation& base = chunks.at(loc.base);
    REQUIRE(base.depth == 1);
    REQUIRE(chunks.at(base.base).depth == 0);
    return {d, loc.base, base.base};
  }
  FAIL("no chain of depth 2 in the store");
  return {};
}

// Applies `edit` to the index of the (closed) store in `dir`.
void EditIndex(const std::string& dir,
               const std::function<void(internal::Index&, internal::IndexBatch&)>& edit) {
  auto index = internal::Index::Open(internal::IndexDirOf(dir), false, false);
  REQUIRE(index.ok());
  internal::IndexBatch batch;
  edit(**index, batch);
  REQUIRE((*index)->Commit(batch).ok());
  REQUIRE((*index)->Close().ok());
}

// Rewrites the index entry of `d` with depth `depth`.
void SetDepth(const std::string& dir, const Digest& d, uint8_t depth) {
  EditIndex(dir, [&](internal::Index& index, internal::IndexBatch& batch) {
    auto loc = index.FindChunk(d);
    REQUIRE(loc.ok());
    REQUIRE(loc->has_value());
    (*loc)->depth = depth;
    batch.Put(internal::ChunkKey(d), internal::EncodeChunkLocation(**loc));
  });
}

std::string Link(const Digest& delta, const Digest& base) {
  return "delta chunk " + delta.ShortHex() + ": base " + base.ShortHex();
}

VerifyReport Verify(const std::string& dir) {
  auto store = MustOpen(dir);
  auto report = store->Verify({});
  REQUIRE(report.ok());
  return *report;
}

using Names = std::vector<std::string>;

}  // namespace

TEST_CASE("verify names a delta whose unnamed base is missing, and every checkpoint over it",
          "[integration][delta][corruption]") {
  TempDir dir;
  const Chain chain = SaveChain(dir.path());
  REQUIRE(MustOpen(dir.path())->Delete("run@0").ok());  // b0 is named by no checkpoint now
  EditIndex(dir.path(), [&](internal::Index&, internal::IndexBatch& batch) {
    batch.Delete(internal::ChunkKey(chain.b0));
  });
  const VerifyReport report = Verify(dir.path());
  REQUIRE(report.problems.size() == 1);
  const VerifyProblem& p = report.problems[0];
  CHECK(p.status.code() == Code::kCorruption);
  CHECK_THAT(p.status.message(),
             Catch::StartsWith(Link(chain.d1, chain.b0) + " is missing from the index"));
  CHECK(p.checkpoints == Names{"run@1", "run@2"});
  CHECK(p.tensors == Names{"run@1:w", "run@2:w"});
}

TEST_CASE("verify names a named chunk missing from the index and the deltas over it",
          "[integration][delta][corruption]") {
  TempDir dir;
  const Chain chain = SaveChain(dir.path());
  EditIndex(dir.path(), [&](internal::Index&, internal::IndexBatch& batch) {
    batch.Delete(internal::ChunkKey(chain.b0));
  });
  const VerifyReport report = Verify(dir.path());
  std::map<std::string, Names> affected;  // by message up to "; affects"
  for (const auto& p : report.problems)
    affected[p.status.message().substr(0, p.status.message().find(';'))] = p.checkpoints;
  CHECK(affected ==
        std::map<std::string, Names>{
            {Link(chain.d1, chain.b0) + " is missing from the index", {"run@1", "run@2"}},
            {"chunk " + chain.b0.ShortHex() + " is missing from the index",
             {"run@0", "run@1", "run@2"}}});
}

TEST_CASE("verify names a link whose base is not shallower than its delta",
          "[integration][delta][corruption]") {
  TempDir dir;
  const Chain chain = SaveChain(dir.path());
  SECTION("the base is named by no checkpoint") {
    REQUIRE(MustOpen(dir.path())->Delete("run@1").ok());
  }
  // Whichever checkpoint verify reads first, the link is checked.
  SECTION("the base is named too") {}
  SetDepth(dir.path(), chain.d1, 2);
  const VerifyReport report = Verify(dir.path());
  REQUIRE(report.problems.size() == 1);
  const VerifyProblem& p = report.problems[0];
  CHECK_THAT(p.status.message(),
             Catch::StartsWith(Link(chain.d2, chain.d1) + " breaks the chain's depth order"));
  CHECK(p.checkpoints == Names{"run@2"});
}
