// End-to-end behaviour of the Store API on a real local store.
#include <catch2/catch.hpp>
#include <cstring>

#include "ckpt/ckpt.h"
#include "index/index.h"
#include "index/index_keys.h"
#include "repo/ref_resolver.h"
#include "test_util.h"

using ckpt::test::RandomBytes;
using ckpt::test::TempDir;

namespace {

std::unique_ptr<ckpt::Store> OpenStore(const std::string& dir, uint32_t chunk_size = 64 * 1024) {
  ckpt::StoreOptions options;
  options.create_if_missing = true;
  options.chunk_size = chunk_size;
  auto store = ckpt::Store::Open(options, dir);
  REQUIRE(store.ok());
  return std::move(store).value();
}

ckpt::SaveRequest Request(const std::string& run, uint64_t step,
                          const std::vector<uint8_t>& weights, const std::vector<uint8_t>& blob) {
  ckpt::SaveRequest r;
  r.run = run;
  r.step = step;
  r.tensors.push_back({"w",
                       ckpt::DType::kF32,
                       {static_cast<int64_t>(weights.size() / 4)},
                       weights.data(),
                       weights.size()});
  r.blobs.push_back({"rng", blob.data(), blob.size()});
  r.meta.metrics["loss"] = 1.0 / (step + 1);
  r.meta.attributes["model"] = "mlp";
  return r;
}

}  // namespace

TEST_CASE("save and load round-trip bit-exact", "[unit][store]") {
  TempDir dir;
  auto store = OpenStore(dir.path());
  auto weights = RandomBytes(1 << 20, 1);
  auto blob = RandomBytes(100, 2);
  auto info = store->Save(Request("run", 10, weights, blob));
  REQUIRE(info.ok());
  CHECK(info->logical_bytes == weights.size() + blob.size());
  CHECK(info->new_raw_bytes == weights.size() + blob.size());

  auto loaded = store->Load("run@10");
  REQUIRE(loaded.ok());
  REQUIRE(loaded->tensors.size() == 1);
  CHECK(loaded->tensors[0].data == weights);
  CHECK(loaded->blobs[0].data == blob);
  CHECK(loaded->meta.metrics.at("loss") == Approx(1.0 / 11));

  std::vector<uint8_t> part(1000);
  REQUIRE(store->LoadRange("run", "w", 65530, part.size(), part.data()).ok());
  CHECK(std::memcmp(part.data(), weights.data() + 65530, part.size()) == 0);
}

TEST_CASE("unchanged chunks are stored once", "[unit][store]") {
  TempDir dir;
  auto store = OpenStore(dir.path());
  auto weights = RandomBytes(1 << 20, 1);
  auto blob = RandomBytes(10, 2);
  REQUIRE(store->Save(Request("run", 1, weights, blob)).ok());
  weights[5] ^= 1;  // touches one 64 KiB chunk of 16
  auto second = store->Save(Request("run", 2, weights, blob));
  REQUIRE(second.ok());
  CHECK(second->new_raw_bytes == 64 * 1024);
  CHECK(second->shared_bytes == weights.size() + blob.size() - 64 * 1024);
  auto latest = store->Resolve("run");
  REQUIRE(latest.ok());
  CHECK(latest->step == 2);
  CHECK(latest->parent_id == store->Resolve("run@1")->id);
}

TEST_CASE("refs, tags and delete", "[unit][store]") {
  TempDir dir;
  auto store = OpenStore(dir.path());
  auto weights = RandomBytes(4096, 1);
  auto blob = RandomBytes(10, 2);
  auto info = store->Save(Request("run", 1, weights, blob));
  REQUIRE(info.ok());
  REQUIRE(store->Save(Request("run", 2, weights, blob)).ok());
  CHECK(store->Save(Request("run", 2, weights, blob)).status().code() ==
        ckpt::Code::kAlreadyExists);
  CHECK(store->Resolve(info->id.substr(0, 8))->step == 1);
  CHECK(store->Resolve("nope").status().code() == ckpt::Code::kNotFound);
  CHECK(store->Resolve("run@x").status().code() == ckpt::Code::kInvalidArgument);
  REQUIRE(store->Tag("run@1", "best").ok());
  CHECK(store->Resolve("best")->step == 1);
  CHECK(store->Tag("run@2", "best").code() == ckpt::Code::kAlreadyExists);
  auto list = store->ListCheckpoints("run");
  REQUIRE(list.ok());
  REQUIRE(list->size() == 2);
  CHECK((*list)[0].tags == std::vector<std::string>{"best"});
  REQUIRE(store->Delete("best").ok());
  CHECK(store->Resolve("run@1").status().code() == ckpt::Code::kNotFound);
  CHECK(store->Resolve("best").status().code() == ckpt::Code::kNotFound);
  CHECK(store->ListCheckpoints("run")->size() == 1);
}

TEST_CASE("bad save requests change nothing", "[unit][store]") {
  TempDir dir;
  auto store = OpenStore(dir.path());
  auto weights = RandomBytes(4096, 1);
  auto blob = RandomBytes(10, 2);
  auto bad = Request("run", 1, weights, blob);
  bad.tensors[0].shape = {1000};
  CHECK(store->Save(bad).status().code() == ckpt::Code::kInvalidArgument);
  bad = Request("bad run", 1, weights, blob);
  CHECK(store->Save(bad).status().code() == ckpt::Code::kInvalidArgument);
  bad = Request("run", 1, weights, blob);
  bad.blobs[0].name = "w";
  CHECK(store->Save(bad).status().code() == ckpt::Code::kInvalidArgument);
  CHECK(store->ListCheckpoints("")->empty());
}

TEST_CASE("every dtype round-trips", "[unit][store]") {
  TempDir dir;
  auto store = OpenStore(dir.path(), 4096);
  ckpt::SaveRequest r;
  r.run = "dtypes";
  std::vector<std::vector<uint8_t>> buffers;
  for (uint8_t v = 1; v <= 15; ++v) {
    auto dtype = *ckpt::DTypeFromValue(v);
    int64_t n = 3001;
    buffers.push_back(RandomBytes(n * ckpt::DTypeSize(dtype), v));
    r.tensors.push_back({std::string(ckpt::DTypeName(dtype)),
                         dtype,
                         {n},
                         buffers.back().data(),
                         buffers.back().size()});
  }
  REQUIRE(store->Save(r).ok());
  for (size_t i = 0; i < r.tensors.size(); ++i) {
    std::vector<uint8_t> out(buffers[i].size());
    REQUIRE(store->LoadEntry("dtypes", r.tensors[i].name, out.data(), out.size()).ok());
    CHECK(out == buffers[i]);
  }
}

// Found by fuzzing (tests/fuzz/corpus/ref/crash-short-id-key, with a damaged
// index): an id prefix read a checkpoint key shorter than an id as one,
// 32 bytes past the key's start, and called the prefix ambiguous.
TEST_CASE("an id prefix skips checkpoint keys of the wrong size", "[unit][store]") {
  using namespace ckpt::internal;
  TempDir dir;
  auto index = Index::Open(dir.Sub("index"), true, false, false);
  REQUIRE(index.ok());
  Manifest m;
  m.run = "train";
  m.step = 10;
  m.chunk_size = 4096;
  CheckpointRecord rec;
  rec.manifest = EncodeManifest(m);
  rec.manifest_location.pack_id = "00112233445566778899aabbccddeeff";
  Digest id;
  for (size_t j = 0; j < Digest::kSize; ++j) id.bytes[j] = static_cast<uint8_t>(j);
  id.bytes[0] = 0xc0, id.bytes[1] = 0xff, id.bytes[2] = 0xee, id.bytes[3] = 0x02;
  IndexBatch batch;
  batch.Put(CheckpointKey(id), EncodeCheckpointRecord(rec));
  batch.Put(std::string("M\xc0\xff\xee\x02", 5), "x");  // too short for an id
  REQUIRE((*index)->Commit(batch).ok());
  for (const char* ref : {"c0ffee02", "c0ffee0", "C0FFEE020"}) {
    INFO(ref);
    auto resolved = ResolveRef(**index, ref);
    REQUIRE(resolved.ok());
    CHECK(resolved->id == id);
    CHECK(resolved->manifest.step == 10);
  }
  CHECK(ResolveRef(**index, "c0ffee03").status().code() == ckpt::Code::kNotFound);
}

TEST_CASE("a save filling many pack buffers from many threads round-trips", "[unit][store]") {
  // Pack buffers of 4 MiB and more are faulted in ahead of the appends,
  // outside the sink's lock, while other workers append: the bytes must
  // come back exactly, pack after pack.
  TempDir dir;
  ckpt::StoreOptions options;
  options.create_if_missing = true;
  options.chunk_size = 64 * 1024;
  options.pack_target_size = 4 << 20;
  options.threads = 4;
  auto store = ckpt::Store::Open(options, dir.path());
  REQUIRE(store.ok());
  auto weights = RandomBytes(24 << 20, 7);
  auto blob = RandomBytes(100, 8);
  REQUIRE((*store)->Save(Request("run", 1, weights, blob)).ok());
  auto loaded = (*store)->Load("run@1");
  REQUIRE(loaded.ok());
  CHECK(loaded->tensors[0].data == weights);
  CHECK(loaded->blobs[0].data == blob);
}
