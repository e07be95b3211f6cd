// DiffValues on a store: which tensors are compared, that chunks with the
// same id are not read (and a tensor with no changed chunk not at all), and
// that the statistics are those of the tensors' values.
#include "ckpt/value_diff.h"

#include <catch2/catch.hpp>
#include <cmath>
#include <cstring>

#include "store/store_fixture.h"

using namespace ckpt;
using namespace ckpt::test;

namespace {

constexpr uint64_t kChunk = 64 * 1024;  // the fixture's chunk size

template <typename T>
std::vector<uint8_t> Bytes(const std::vector<T>& v) {
  std::vector<uint8_t> b(v.size() * sizeof(T));
  std::memcpy(b.data(), v.data(), b.size());
  return b;
}

const TensorValueDiff* Find(const ValueDiff& d, const std::string& name) {
  for (const auto& t : d.tensors)
    if (t.name == name) return &t;
  return nullptr;
}

// layer.w: F32 of 4 chunks; layer.frozen: F32, never changes; ids: I64.
struct Model {
  std::vector<float> w = std::vector<float>(4 * kChunk / 4);
  std::vector<float> frozen = std::vector<float>(3 * kChunk / 4 + 10, 0.25f);
  std::vector<int64_t> ids = std::vector<int64_t>(1000);
  std::vector<uint8_t> blob = RandomBytes(100, 5);

  Model() {
    for (size_t i = 0; i < w.size(); ++i) w[i] = static_cast<float>(i % 100) / 10.0f;
    for (size_t i = 0; i < ids.size(); ++i) ids[i] = static_cast<int64_t>(i);
  }
  SaveRequest Request(uint64_t step) const {
    SaveRequest r;
    r.run = "r";
    r.step = step;
    r.tensors.push_back({"layer.w", DType::kF32, {int64_t(w.size())}, w.data(), w.size() * 4});
    r.tensors.push_back(
        {"layer.frozen", DType::kF32, {int64_t(frozen.size())}, frozen.data(), frozen.size() * 4});
    r.tensors.push_back({"ids", DType::kI64, {1000}, ids.data(), ids.size() * 8});
    r.blobs.push_back({"rng", blob.data(), blob.size()});
    return r;
  }
};

}  // namespace

TEST_CASE("value diff: reads only changed tensors, and of them the changed chunks of both",
          "[integration]") {
  TempDir dir;
  auto store = MustOpen(dir.Sub("s"));
  Model m;
  REQUIRE(store->Save(m.Request(1)).ok());
  // One element of layer.w's third chunk moves by 0.5; ids[7] jumps by 2^62.
  const size_t k = 2 * kChunk / 4 + 3;
  const double old_k = m.w[k];
  m.w[k] += 0.5f;
  m.ids[7] = int64_t{1} << 62;
  m.blob[0] ^= 1;
  REQUIRE(store->Save(m.Request(2)).ok());

  auto r = DiffValues(*store, "r@1", "r@2");
  REQUIRE(r.ok());
  const ValueDiff& d = *r;
  CHECK(d.from.step == 1);
  CHECK(d.to.step == 2);
  REQUIRE(d.tensors.size() == 3);  // the blob is not compared
  CHECK(d.added.empty());
  CHECK(d.removed.empty());
  CHECK(d.retyped.empty());

  const TensorValueDiff* w = Find(d, "layer.w");
  REQUIRE(w != nullptr);
  CHECK(w->dtype == DType::kF32);
  CHECK(w->chunks == 4);
  CHECK(w->chunks_changed == 1);
  CHECK(w->elements == m.w.size());
  CHECK(w->elements_changed == 1);
  CHECK(w->max_abs_diff == Approx(double(m.w[k]) - old_k));
  CHECK(w->mean_abs_diff == Approx(w->max_abs_diff / double(m.w.size())));
  double asq = 0;
  for (size_t i = 0; i < m.w.size(); ++i) {
    const double a = i == k ? old_k : m.w[i];
    asq += a * a;
  }
  CHECK(w->l2_a == Approx(std::sqrt(asq)));
  CHECK(w->rel_l2 == Approx(w->max_abs_diff / std::sqrt(asq)));
  // All of a (for its norm), and b's one changed chunk.
  CHECK(w->bytes_read == 4 * kChunk + kChunk);

  const TensorValueDiff* frozen = Find(d, "layer.frozen");
  REQUIRE(frozen != nullptr);
  CHECK(frozen->elements_changed == 0);
  CHECK(frozen->chunks_changed == 0);
  CHECK(frozen->bytes_read == 0);
  CHECK(frozen->rel_l2 == 0);

  const TensorValueDiff* ids = Find(d, "ids");
  REQUIRE(ids != nullptr);
  CHECK(ids->elements_changed == 1);
  CHECK(ids->max_abs_diff_exact == (uint64_t{1} << 62) - 7);
  CHECK(ids->bytes_read == 2 * 8000);
  CHECK(d.bytes_read == w->bytes_read + ids->bytes_read);
}

TEST_CASE("value diff: added, removed and retyped entries are listed, not compared",
          "[integration]") {
  TempDir dir;
  auto store = MustOpen(dir.Sub("s"));
  std::vector<float> x(16, 1.0f), y(16, 2.0f);
  SaveRequest r1;
  r1.run = "r";
  r1.step = 1;
  r1.tensors.push_back({"same", DType::kF32, {16}, x.data(), 64});
  r1.tensors.push_back({"gone", DType::kF32, {16}, x.data(), 64});
  r1.tensors.push_back({"reshaped", DType::kF32, {4, 4}, x.data(), 64});
  r1.tensors.push_back({"recast", DType::kF32, {16}, x.data(), 64});
  r1.blobs.push_back({"became_blob", x.data(), 64});
  REQUIRE(store->Save(r1).ok());
  SaveRequest r2;
  r2.run = "r";
  r2.step = 2;
  r2.tensors.push_back({"new", DType::kF32, {16}, y.data(), 64});
  r2.tensors.push_back({"same", DType::kF32, {16}, y.data(), 64});
  r2.tensors.push_back({"reshaped", DType::kF32, {16}, y.data(), 64});
  r2.tensors.push_back({"recast", DType::kI32, {16}, y.data(), 64});
  r2.tensors.push_back({"became_blob", DType::kU8, {64}, y.data(), 64});
  REQUIRE(store->Save(r2).ok());

  auto d = DiffValues(*store, "r@1", "r@2");
  REQUIRE(d.ok());
  REQUIRE(d->tensors.size() == 1);
  CHECK(d->tensors[0].name == "same");
  CHECK(d->tensors[0].elements_changed == 16);
  CHECK(d->tensors[0].rel_l2 == Approx(1.0));
  CHECK(d->added == std::vector<std::string>{"new"});
  CHECK(d->removed == std::vector<std::string>{"gone"});
  CHECK(d->retyped == std::vector<std::string>{"reshaped", "recast", "became_blob"});
}

TEST_CASE("value diff: unknown refs are kNotFound", "[integration]") {
  TempDir dir;
  auto store = MustOpen(dir.Sub("s"));
  Model m;
  REQUIRE(store->Save(m.Request(1)).ok());
  CHECK(DiffValues(*store, "r@1", "r@9").status().code() == Code::kNotFound);
  CHECK(DiffValues(*store, "nope", "r@1").status().code() == Code::kNotFound);
}

TEST_CASE("value diff: a sharded tensor that changed is compared whole", "[integration][shard]") {
  TempDir dir;
  auto store = MustOpen(dir.Sub("s"));
  // g: F32 [64, 512] (128 KiB), rows split between two ranks.
  std::vector<float> g(64 * 512);
  for (size_t i = 0; i < g.size(); ++i) g[i] = static_cast<float>(i % 7);
  auto save = [&](uint64_t step) {
    for (uint32_t r = 0; r < 2; ++r) {
      SaveRequest req;
      req.run = "r";
      req.step = step;
      req.rank = r;
      req.world_size = 2;
      TensorView v{"g", DType::kF32, {32, 512}, g.data() + r * 32 * 512, 32 * 512 * 4};
      v.global_shape = {64, 512};
      v.offsets = {static_cast<int64_t>(r) * 32, 0};
      req.tensors.push_back(v);
      REQUIRE(store->Save(req).ok());
    }
  };
  save(1);
  save(2);
  g[40 * 512 + 9] += 3.0f;  // in rank 1's piece
  save(3);

  auto same = DiffValues(*store, "r@1", "r@2");
  REQUIRE(same.ok());
  REQUIRE(same->tensors.size() == 1);
  CHECK(same->tensors[0].bytes_read == 0);
  CHECK(same->tensors[0].elements_changed == 0);

  auto moved = DiffValues(*store, "r@2", "r@3");
  REQUIRE(moved.ok());
  REQUIRE(moved->tensors.size() == 1);
  const TensorValueDiff& t = moved->tensors[0];
  CHECK(t.elements == 64 * 512);
  CHECK(t.elements_changed == 1);
  CHECK(t.max_abs_diff == 3.0);
  CHECK(t.chunks_changed == 1);
  CHECK(t.bytes_read == 2 * g.size() * 4);
}

TEST_CASE("value diff: the chunks it reads are checked against their hashes",
          "[integration][corruption]") {
  TempDir dir;
  const std::string path = dir.Sub("s");
  auto store = MustOpen(path);
  // Incompressible, so stored raw: a flipped byte lands in chunk data.
  std::vector<uint8_t> a = RandomBytes(4 * kChunk, 1);
  SaveRequest req;
  req.run = "r";
  req.step = 1;
  req.tensors.push_back({"w", DType::kU8, {int64_t(a.size())}, a.data(), a.size()});
  REQUIRE(store->Save(req).ok());
  auto packs = NewLocalBackend(path)->List("packs/");
  REQUIRE(packs.ok());
  REQUIRE(packs->size() == 1);
  const std::string first_pack = path + "/" + packs->front();
  std::vector<uint8_t> b = a;
  b[10] ^= 1;
  req.step = 2;
  req.tensors[0].data = b.data();
  REQUIRE(store->Save(req).ok());
  REQUIRE(DiffValues(*store, "r@1", "r@2").ok());

  // Damage r@1's chunks: the old tensor is read whole (its norm), so the
  // diff must fail rather than compare unverified bytes.
  std::vector<uint8_t> pack = ReadFileBytes(first_pack);
  pack[pack.size() / 2] ^= 0x40;
  WriteFileBytes(first_pack, pack.data(), pack.size());
  Status st = DiffValues(*store, "r@1", "r@2").status();
  CHECK(st.code() == Code::kCorruption);
  CHECK_THAT(st.message(), Catch::Contains("tensor 'w'"));
}
