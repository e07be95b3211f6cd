// Sharded manifests (version 2): round trip, every truncation refused,
// pieces that do not fit their tensor refused; shards fitting together and
// merging into one manifest (manifest/entry_view).
#include <catch2/catch.hpp>

#include "manifest/entry_view.h"
#include "manifest/manifest_codec.h"

using namespace ckpt;
using namespace ckpt::internal;

namespace {

Digest D(int i) {
  std::string s = std::to_string(i);
  return Sha256(s.data(), s.size());
}

ManifestEntry Piece(std::string name, uint32_t writer, std::vector<int64_t> offsets,
                    std::vector<int64_t> shape, std::vector<int64_t> global) {
  ManifestEntry e;
  e.name = std::move(name);
  e.dtype = DType::kF32;
  e.shape = std::move(shape);
  e.global_shape = std::move(global);
  e.offsets = std::move(offsets);
  e.writer = writer;
  e.byte_length = 4;
  for (int64_t d : e.shape) e.byte_length *= static_cast<uint64_t>(d);
  e.chunks = {D(static_cast<int>(writer) * 100 + static_cast<int>(e.offsets[0]))};
  return e;
}

ManifestEntry Whole(std::string name, uint32_t writer, int content, int32_t local = -1) {
  ManifestEntry e;
  e.name = std::move(name);
  e.dtype = DType::kF32;
  e.shape = {4};
  e.byte_length = 16;
  e.writer = writer;
  e.local_rank = local;
  e.chunks = {D(content)};
  return e;
}

Manifest Shard(uint32_t rank, uint32_t world) {
  Manifest m;
  m.run = std::string("run");
  m.step = 3;
  m.chunk_size = 1 << 16;
  m.world_size = world;
  m.wall_time_ns = 100 + rank;
  if (rank == 0) m.metrics["loss"] = 0.5;
  m.entries.push_back(Piece("w", rank, {2 * rank, 0}, {2, 8}, {2 * world, 8}));
  m.entries.push_back(Whole("bias", rank, 7));
  m.entries.push_back(Whole("rng", rank, 50 + static_cast<int>(rank), static_cast<int32_t>(rank)));
  return m;
}

}  // namespace

TEST_CASE("sharded manifests round trip and refuse every truncation", "[unit][manifest][shard]") {
  Manifest m = Shard(1, 4);
  m.entries.push_back(Whole("cursor", 1, 9, 1));
  m.entries.back().is_blob = true;
  m.entries.back().dtype = DType::kU8;
  m.entries.back().byte_length = 4;
  const std::string bytes = EncodeManifest(m);
  CHECK(bytes[8] == 2);  // version 2
  Manifest back;
  REQUIRE(DecodeManifest(bytes, &back).ok());
  CHECK(back.world_size == 4);
  REQUIRE(back.entries.size() == 4);
  CHECK(back.entries[0].is_piece());
  CHECK(back.entries[0].offsets == std::vector<int64_t>{2, 0});
  CHECK(back.entries[0].global_shape == std::vector<int64_t>{8, 8});
  CHECK(back.entries[0].writer == 1);
  CHECK(back.entries[2].local_rank == 1);
  CHECK(EncodeManifest(back) == bytes);
  for (size_t n = 0; n < bytes.size(); ++n)
    CHECK(DecodeManifest(bytes.substr(0, n), &back).code() == Code::kCorruption);
  // An unsharded manifest stays version 1.
  Manifest plain = m;
  plain.world_size = 1;
  plain.entries = {Whole("bias", 0, 7)};
  CHECK(EncodeManifest(plain)[8] == 1);
}

TEST_CASE("a piece outside its tensor or of the wrong size is corruption",
          "[unit][manifest][shard]") {
  Manifest m = Shard(0, 2);
  SECTION("outside") { m.entries[0].offsets[0] = 3; }
  SECTION("wrong byte length") { m.entries[0].byte_length = 60; }
  SECTION("writer past the world size") { m.entries[1].writer = 2; }
  Manifest back;
  CHECK(DecodeManifest(EncodeManifest(m), &back).code() == Code::kCorruption);
}

TEST_CASE("shards fit together and merge into one manifest", "[unit][manifest][shard]") {
  std::vector<ShardManifest> shards;
  for (uint32_t r = 0; r < 3; ++r) shards.push_back({r, Shard(r, 3)});
  std::vector<const ShardManifest*> all = {&shards[2], &shards[0], &shards[1]};
  REQUIRE(CheckShardsFit(all).ok());
  Manifest m = MergeShards(all);
  CHECK(m.world_size == 3);
  CHECK(m.metrics.at("loss") == 0.5);
  CHECK(m.wall_time_ns == 102);
  auto views = ViewEntries(m);
  REQUIRE(views.ok());
  std::vector<std::string> names;
  for (const auto& v : *views) names.push_back(v.name);
  CHECK(names == std::vector<std::string>{"w", "bias", "rank0/rng", "rank1/rng", "rank2/rng"});
  CHECK((*views)[0].parts.size() == 3);
  CHECK((*views)[0].shape == std::vector<int64_t>{6, 8});
  CHECK((*views)[0].byte_length == 6 * 8 * 4);
  Manifest back;
  REQUIRE(DecodeManifest(EncodeManifest(m), &back).ok());
}

TEST_CASE("a shard is part of the merge of its set and of no other", "[unit][manifest][shard]") {
  std::vector<ShardManifest> shards;
  for (uint32_t r = 0; r < 3; ++r) shards.push_back({r, Shard(r, 3)});
  const Manifest merged = MergeShards({&shards[0], &shards[1], &shards[2]});
  for (const ShardManifest& s : shards) CHECK(ShardIsPartOf(s, merged));
  // The same rank of another job: other chunks in its piece.
  ShardManifest other = shards[1];
  other.manifest.entries[0].chunks = {D(999)};
  CHECK_FALSE(ShardIsPartOf(other, merged));
  // Another rank's entries are not this rank's, though the contents match.
  ShardManifest renamed{2, shards[1].manifest};
  CHECK_FALSE(ShardIsPartOf(renamed, merged));
  // A replicated entry counts whichever rank wrote it.
  ShardManifest replicated{1, {}};
  replicated.manifest = shards[1].manifest.Head();
  replicated.manifest.entries.push_back(Whole("bias", 1, 7));
  CHECK(ShardIsPartOf(replicated, merged));
  // Another world size or step.
  ShardManifest wider = shards[0];
  wider.manifest.world_size = 4;
  CHECK_FALSE(ShardIsPartOf(wider, merged));
  ShardManifest later = shards[0];
  later.manifest.step = 4;
  CHECK_FALSE(ShardIsPartOf(later, merged));
}

TEST_CASE("shards that do not fit are refused with the ranks named", "[unit][manifest][shard]") {
  std::vector<ShardManifest> shards = {{0, Shard(0, 2)}, {1, Shard(1, 2)}};
  SECTION("replicated tensor differs") {
    shards[1].manifest.entries[1].chunks = {D(8)};
    auto s = CheckShardsFit({&shards[0], &shards[1]});
    CHECK(s.code() == Code::kInvalidArgument);
    CHECK_THAT(s.message(), Catch::Contains("ranks 0 and 1") && Catch::Contains("'bias'"));
  }
  SECTION("overlap") {
    shards[1].manifest.entries[0].offsets[0] = 1;
    auto s = CheckShardsFit({&shards[0], &shards[1]});
    CHECK(s.code() == Code::kInvalidArgument);
    CHECK_THAT(s.message(), Catch::Contains("overlap"));
  }
  SECTION("world size") {
    shards[1].manifest.world_size = 3;
    CHECK(CheckShardsFit({&shards[0], &shards[1]}).code() == Code::kInvalidArgument);
  }
  SECTION("whole on one rank, pieces on another") {
    shards[1].manifest.entries[0] = Whole("w", 1, 3);
    CHECK(CheckShardsFit({&shards[0], &shards[1]}).code() == Code::kInvalidArgument);
  }
}
