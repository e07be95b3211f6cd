// Sharded checkpoints: shards of one checkpoint saved by several writers
// become visible together, load back assembled, and read back in any box;
// bad shards are refused and change nothing; gc keeps pending shards and
// reclaims abandoned ones.
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <set>

#include "store/shard_fixture.h"
#include "store/store_fixture.h"

using namespace ckpt;
using namespace ckpt::test;

namespace {

const Tensor* FindTensor(const LoadedCheckpoint& c, const std::string& name) {
  for (const auto& t : c.tensors)
    if (t.name == name) return &t;
  return nullptr;
}

const Blob* FindBlob(const LoadedCheckpoint& c, const std::string& name) {
  for (const auto& b : c.blobs)
    if (b.name == name) return &b;
  return nullptr;
}

// Saves the shards of `s` for `ranks`, each through its own Store handle.
void SaveShards(const std::string& dir, const ShardedState& s, const std::vector<int>& ranks,
                const std::string& run = "run") {
  for (int r : ranks) {
    auto store = MustOpen(dir);
    RankShard shard(s, run, r);
    auto info = store->Save(shard.request);
    INFO(info.status().ToString());
    REQUIRE(info.ok());
  }
}

void CheckAssembled(const LoadedCheckpoint& c, const ShardedState& s) {
  for (const auto& [name, t] : s.tensors) {
    INFO(name);
    const Tensor* got = FindTensor(c, name);
    REQUIRE(got != nullptr);
    CHECK(got->shape == t.shape);
    CHECK(got->data == t.bytes);
  }
  const Tensor* bias = FindTensor(c, "bias");
  REQUIRE(bias != nullptr);
  CHECK(bias->data == s.bias);
  for (int r = 0; r < s.world; ++r) {
    const Blob* rng = FindBlob(c, "rank" + std::to_string(r) + "/rng");
    const Tensor* cursor = FindTensor(c, "rank" + std::to_string(r) + "/cursor");
    REQUIRE(rng != nullptr);
    REQUIRE(cursor != nullptr);
    CHECK(rng->data == s.Rng(r));
    CHECK(cursor->data == s.Cursor(r));
  }
}

std::vector<uint8_t> MustLoadBox(Store& store, const std::string& ref, const std::string& name,
                                 const TestBox& box) {
  int64_t n = 4;
  for (int64_t d : box.shape) n *= d;
  std::vector<uint8_t> out(static_cast<size_t>(n));
  Status s = store.LoadBox(ref, name, box.offsets, box.shape, out.data(), out.size());
  INFO(s.ToString());
  REQUIRE(s.ok());
  return out;
}

}  // namespace

TEST_CASE("a sharded checkpoint appears when its last shard is saved", "[unit][store][shard]") {
  TempDir dir;
  const ShardedState s(4, 1);
  for (int r : {2, 0, 3}) {
    auto store = MustOpen(dir.path());
    RankShard shard(s, "run", r);
    auto info = store->Save(shard.request);
    REQUIRE(info.ok());
    CHECK(info->id.empty());
    CHECK(info->world_size == 4);
    CHECK(info->shards_missing > 0);
    // Nothing of it is visible yet.
    CHECK(store->Resolve("run@1").status().code() == Code::kNotFound);
    auto runs = store->ListRuns();
    REQUIRE(runs.ok());
    CHECK(runs->empty());
  }
  auto store = MustOpen(dir.path());
  RankShard last(s, "run", 1);
  auto info = store->Save(last.request);
  REQUIRE(info.ok());
  CHECK_FALSE(info->id.empty());
  CHECK(info->shards_missing == 0);
  CHECK(info->world_size == 4);
  CHECK(info->tensor_count == 4 + 4);  // w, v, g, bias; a cursor per rank
  CHECK(info->blob_count == 4);        // an rng per rank
  auto loaded = store->Load("run@1");
  REQUIRE(loaded.ok());
  CheckAssembled(*loaded, s);
  CHECK(loaded->meta.metrics.at("loss") == 0.5);
  auto report = store->Verify({true, nullptr});
  REQUIRE(report.ok());
  CHECK(report->ok());
}

TEST_CASE("any box of a sharded tensor reads back, for any world size", "[unit][store][shard]") {
  TempDir dir;
  const ShardedState s(4, 1);
  SaveShards(dir.path(), s, {0, 1, 2, 3});
  auto store = MustOpen(dir.path());
  for (const auto& [name, t] : s.tensors) {
    for (int world : {1, 3, 8}) {
      for (size_t dim : {size_t{0}, size_t{1}}) {
        if (t.shape[dim] < world) continue;
        for (const TestBox& box : SplitAlong(t.shape, dim, world)) {
          INFO(name << " world " << world << " dim " << dim << " offset " << box.offsets[dim]);
          CHECK(MustLoadBox(*store, "run@1", name, box) == t.Slice(box));
        }
      }
    }
    const TestBox odd{{3, 5}, {7, 11}};
    CHECK(MustLoadBox(*store, "run@1", name, odd) == t.Slice(odd));
    const TestBox element{{t.shape[0] - 1, t.shape[1] - 1}, {1, 1}};
    CHECK(MustLoadBox(*store, "run@1", name, element) == t.Slice(element));
  }
  // A whole tensor is a box too, sharded or not.
  CHECK(MustLoadBox(*store, "run@1", "bias", {{4}, {9}}) ==
        std::vector<uint8_t>(s.bias.begin() + 16, s.bias.begin() + 52));
}

TEST_CASE("the entries of a sharded checkpoint list their pieces", "[unit][store][shard]") {
  TempDir dir;
  const ShardedState s(2, 1);
  SaveShards(dir.path(), s, {1, 0});
  auto store = MustOpen(dir.path());
  auto detail = store->Describe("run@1");
  REQUIRE(detail.ok());
  CHECK(detail->info.world_size == 2);
  std::map<std::string, const EntryInfo*> by_name;
  for (const auto& e : detail->entries) by_name[e.name] = &e;
  REQUIRE(by_name.count("w"));
  const EntryInfo& w = *by_name["w"];
  CHECK(w.shape == Dims{37, 24});
  CHECK(w.byte_length == 37 * 24 * 4);
  REQUIRE(w.pieces.size() == 4);
  std::multiset<uint32_t> writers;
  for (const auto& p : w.pieces) writers.insert(p.writer_rank);
  CHECK(writers == std::multiset<uint32_t>{0, 0, 1, 1});
  REQUIRE(by_name.count("bias"));
  CHECK(by_name["bias"]->pieces.empty());
  CHECK(by_name["bias"]->writer_rank == 0);
  REQUIRE(by_name.count("rank1/rng"));
  CHECK(by_name["rank1/rng"]->local_rank == 1);
  CHECK(by_name["rank1/rng"]->is_blob);
  // The replicated tensor is in the manifest once.
  int bias_entries = 0;
  for (const auto& e : detail->entries) bias_entries += e.name == "bias";
  CHECK(bias_entries == 1);
}

TEST_CASE("a rank may save its shard again before the checkpoint completes",
          "[unit][store][shard]") {
  TempDir dir;
  const ShardedState s(2, 1);
  SaveShards(dir.path(), s, {0, 0});
  SaveShards(dir.path(), s, {1});
  auto store = MustOpen(dir.path());
  auto loaded = store->Load("run@1");
  REQUIRE(loaded.ok());
  CheckAssembled(*loaded, s);
  // Once complete, a shard of it is refused like any save of an existing step.
  RankShard again(s, "run", 0);
  CHECK(store->Save(again.request).status().code() == Code::kAlreadyExists);
}

TEST_CASE("shards that do not fit together are refused and change nothing",
          "[unit][store][shard]") {
  TempDir dir;
  const ShardedState s(2, 1);
  SaveShards(dir.path(), s, {0});
  auto store = MustOpen(dir.path());
  SECTION("another world size") {
    const ShardedState other(4, 1);
    RankShard shard(other, "run", 1);
    Status st = store->Save(shard.request).status();
    CHECK(st.code() == Code::kInvalidArgument);
    CHECK_THAT(st.message(), Catch::Contains("world size"));
  }
  SECTION("the same rank of another world size does not replace the record") {
    const ShardedState other(4, 1);
    RankShard shard(other, "run", 0);
    Status st = store->Save(shard.request).status();
    CHECK(st.code() == Code::kInvalidArgument);
    CHECK_THAT(st.message(), Catch::Contains("world size"));
  }
  SECTION("a replicated tensor that differs") {
    RankShard shard(s, "run", 1);
    shard.bias[0] ^= 1;
    Status st = store->Save(shard.request).status();
    CHECK(st.code() == Code::kInvalidArgument);
    CHECK_THAT(st.message(), Catch::Contains("'bias'"));
  }
  SECTION("a piece overlapping another rank's") {
    RankShard shard(s, "run", 1);
    for (auto& t : shard.request.tensors)
      if (t.name == "v") t.offsets[1] -= 1;
    Status st = store->Save(shard.request).status();
    CHECK(st.code() == Code::kInvalidArgument);
    CHECK_THAT(st.message(), Catch::Contains("overlap") && Catch::Contains("'v'"));
  }
  // Still pending, still invisible; the right shard completes it.
  CHECK(store->Resolve("run@1").status().code() == Code::kNotFound);
  SaveShards(dir.path(), s, {1});
  auto loaded = store->Load("run@1");
  REQUIRE(loaded.ok());
  CheckAssembled(*loaded, s);
}

TEST_CASE("bad sharded requests are refused before anything is written", "[unit][store][shard]") {
  TempDir dir;
  auto store = MustOpen(dir.path());
  const ShardedState s(2, 1);
  RankShard shard(s, "run", 0);
  SaveRequest& r = shard.request;
  SECTION("rank out of range") { r.rank = 2; }
  SECTION("a box outside the global shape") { r.tensors[0].offsets[0] = 36; }
  SECTION("a box of another rank than its tensor") { r.tensors[0].offsets = {0}; }
  SECTION("two overlapping pieces of one rank") {
    TensorView dup = r.tensors[0];
    r.tensors.push_back(dup);
  }
  SECTION("a global name of the rank-local form") {
    r.tensors[r.tensors.size() - 2].name = "rank0/x";
  }
  SECTION("a rank-local piece") { r.tensors[0].rank_local = true; }
  Status st = store->Save(r).status();
  CHECK(st.code() == Code::kInvalidArgument);
  auto listing = NewLocalBackend(dir.path())->List("packs/");
  REQUIRE(listing.ok());
  CHECK(listing->empty());
}

TEST_CASE("reading a region no piece covers is a clear error", "[unit][store][shard]") {
  TempDir dir;
  auto store = MustOpen(dir.path());
  // Two ranks each saving one row of a 3-row tensor: row 2 is never saved.
  std::vector<std::vector<uint8_t>> rows = {RandomBytes(16, 1), RandomBytes(16, 2)};
  for (uint32_t r = 0; r < 2; ++r) {
    SaveRequest req;
    req.run = "run";
    req.step = 1;
    req.rank = r;
    req.world_size = 2;
    TensorView v{"t", DType::kF32, {1, 4}, rows[r].data(), 16};
    v.global_shape = {3, 4};
    v.offsets = {static_cast<int64_t>(r), 0};
    req.tensors.push_back(v);
    REQUIRE(store->Save(req).ok());
  }
  CHECK(MustLoadBox(*store, "run@1", "t", {{1, 0}, {1, 4}}) == rows[1]);
  std::vector<uint8_t> out(48);
  Status st = store->LoadBox("run@1", "t", {1, 0}, {2, 4}, out.data(), 32);
  CHECK(st.code() == Code::kNotFound);
  CHECK_THAT(st.message(), Catch::Contains("not covered"));
  CHECK(store->LoadEntry("run@1", "t", out.data(), out.size()).code() == Code::kNotFound);
  CHECK(store->Load("run@1").status().code() == Code::kNotFound);
  st = store->LoadBox("run@1", "t", {2, 0}, {2, 4}, out.data(), 32);
  CHECK(st.code() == Code::kInvalidArgument);
}

TEST_CASE("gc keeps pending shards and reclaims abandoned ones", "[unit][store][shard][gc]") {
  TempDir dir;
  const ShardedState s(2, 1);
  SaveShards(dir.path(), s, {0});
  auto store = MustOpen(dir.path());
  GcOptions keep;
  keep.grace_seconds = 3600;
  auto report = store->Gc(keep);
  REQUIRE(report.ok());
  CHECK(report->abandoned_shards_removed == 0);
  CHECK(report->chunks_removed == 0);
  // Rank 1 comes later: the checkpoint completes with rank 0's chunks intact.
  SaveShards(dir.path(), s, {1});
  auto loaded = store->Load("run@1");
  REQUIRE(loaded.ok());
  CheckAssembled(*loaded, s);

  // A shard of step 2 whose partner never comes is removed once older than
  // the grace period, and its chunks with it.
  const ShardedState next(2, 2);
  SaveShards(dir.path(), next, {1});
  GcOptions now;
  now.grace_seconds = 0;
  now.policy = RetentionPolicy();
  now.policy->keep_last = 10;
  report = store->Gc(now);
  REQUIRE(report.ok());
  CHECK(report->abandoned_shards_removed == 1);
  CHECK(report->chunks_removed > 0);
  auto verify = store->Verify({true, nullptr});
  REQUIRE(verify.ok());
  CHECK(verify->ok());
  loaded = store->Load("run@1");
  REQUIRE(loaded.ok());
  CheckAssembled(*loaded, s);
  // Its partner arriving now starts a new set instead of completing it.
  SaveShards(dir.path(), next, {0});
  CHECK(store->Resolve("run@2").status().code() == Code::kNotFound);
}

TEST_CASE("the same state saved by two world sizes loads the same", "[unit][store][shard]") {
  TempDir dir;
  SaveShards(dir.path(), ShardedState(4, 1), {0, 1, 2, 3}, "a");
  auto store = MustOpen(dir.path());
  // The same global tensors split among 2 ranks: other boxes, same bytes.
  SaveShards(dir.path(), ShardedState(2, 1), {0, 1}, "b");
  auto a = store->Load("a@1");
  auto b = store->Load("b@1");
  REQUIRE(a.ok());
  REQUIRE(b.ok());
  for (const char* name : {"w", "v", "g", "bias"}) {
    INFO(name);
    CHECK(FindTensor(*a, name)->data == FindTensor(*b, name)->data);
  }
}

TEST_CASE("repair rebuilds sharded checkpoints and drops pending shards",
          "[unit][store][shard][repair]") {
  TempDir dir;
  const ShardedState whole(2, 1), pending(2, 2);
  SaveShards(dir.path(), whole, {0, 1});
  SaveShards(dir.path(), pending, {0});
  std::filesystem::remove_all(dir.Sub("index"));
  auto report = Store::Repair({}, dir.path());
  REQUIRE(report.ok());
  auto store = MustOpen(dir.path());
  auto loaded = store->Load("run@1");
  REQUIRE(loaded.ok());
  CheckAssembled(*loaded, whole);
  CHECK(store->Resolve("run@2").status().code() == Code::kNotFound);
  // The lost shard's rank saves again; its partner must too.
  SaveShards(dir.path(), pending, {1, 0});
  loaded = store->Load("run@2");
  REQUIRE(loaded.ok());
  CheckAssembled(*loaded, pending);
}

TEST_CASE("verify checks the chunks of pending shards and names them", "[unit][store][shard]") {
  TempDir dir;
  const ShardedState s(2, 1);
  SaveShards(dir.path(), s, {0});
  auto store = MustOpen(dir.path());
  auto report = store->Verify({true, nullptr});
  REQUIRE(report.ok());
  CHECK(report->ok());
  CHECK(report->checkpoints_checked == 0);
  CHECK(report->pending_shards_checked == 1);
  CHECK(report->chunks_checked > 0);
  // Random bytes are stored as they are: flip one inside the only pack.
  auto packs = NewLocalBackend(dir.path())->List("packs/");
  REQUIRE(packs.ok());
  REQUIRE(packs->size() == 1);
  {
    std::fstream f(dir.path() + "/" + packs->front(),
                   std::ios::in | std::ios::out | std::ios::binary);
    f.seekg(100);
    char ch;
    f.read(&ch, 1);
    ch = static_cast<char>(ch ^ 1);
    f.seekp(100);
    f.write(&ch, 1);
  }
  report = store->Verify({true, nullptr});
  REQUIRE(report.ok());
  REQUIRE_FALSE(report->ok());
  CHECK(report->problems[0].checkpoints == std::vector<std::string>{"run@1 shard 0 (pending)"});
}
