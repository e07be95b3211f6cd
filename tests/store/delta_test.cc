// Delta chunks in a real store: saves of slowly changing tensors store
// deltas against the parent, loads stay bit-exact through chains at the
// depth bound, gc keeps every base a kept chunk needs, verify and repair
// follow chains, and a damaged base names every checkpoint over it.
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>

#include "doubles/fault_injecting_backend.h"
#include "store/store_fixture.h"

using namespace ckpt;
using namespace ckpt::test;
using ckpt::internal::FaultInjectingBackend;

namespace {

const std::vector<DType> kAllDTypes = {DType::kBool,   DType::kU8,  DType::kI8,  DType::kF8E5M2,
                                       DType::kF8E4M3, DType::kI16, DType::kU16, DType::kF16,
                                       DType::kBF16,   DType::kI32, DType::kU32, DType::kF32,
                                       DType::kF64,    DType::kI64, DType::kU64};

constexpr size_t kElements = 48 * 1024;  // several 64 KiB chunks per tensor

// A series of checkpoints where every tensor changes a little per step: the
// low byte of each float element, or one element in 64 of the others, so
// that every chunk changes and plain dedup finds nothing.
class Series {
 public:
  explicit Series(uint64_t seed) {
    for (DType t : kAllDTypes) {
      auto bytes = RandomBytes(kElements * DTypeSize(t), seed + static_cast<uint64_t>(t));
      if (t == DType::kBool)
        for (auto& b : bytes) b &= 1;
      state_[t] = bytes;
    }
    history_.push_back(state_);
  }

  void Step(uint64_t seed) {
    for (auto& [t, bytes] : state_) {
      size_t elem = DTypeSize(t);
      auto noise = RandomBytes(kElements, seed + static_cast<uint64_t>(t));
      for (size_t i = 0; i < kElements; ++i) {
        if (DTypeIsFloat(t)) {
          bytes[i * elem] ^= noise[i];
        } else if (noise[i] % 64 == 0) {
          bytes[i * elem] = t == DType::kBool ? !bytes[i * elem] : noise[(i + 1) % kElements];
        }
      }
    }
    history_.push_back(state_);
  }

  SaveRequest Request(size_t step) const {
    SaveRequest r;
    r.run = "run";
    r.step = step;
    for (const auto& [t, bytes] : history_[step])
      r.tensors.push_back({"t" + std::to_string(static_cast<int>(t)),
                           t,
                           {static_cast<int64_t>(kElements)},
                           bytes.data(),
                           bytes.size()});
    return r;
  }

  bool Matches(size_t step, const LoadedCheckpoint& loaded) const {
    const auto& want = history_[step];
    if (loaded.tensors.size() != want.size()) return false;
    size_t i = 0;
    for (const auto& [t, bytes] : want)
      if (loaded.tensors[i++].data != bytes) return false;
    return true;
  }

  size_t steps() const { return history_.size(); }

 private:
  std::map<DType, std::vector<uint8_t>> state_;
  std::vector<std::map<DType, std::vector<uint8_t>>> history_;
};

Series MakeSeries(size_t steps) {
  Series s(100);
  for (size_t i = 1; i < steps; ++i) s.Step(1000 * i);
  return s;
}

std::unique_ptr<Store> OpenWithDepth(const std::string& dir, int depth) {
  StoreOptions options;
  options.delta_max_depth = depth;
  options.pack_target_size = 1 << 20;  // several packs per save
  return MustOpen(dir, options);
}

void RequireAllLoad(Store& store, const Series& series, const std::vector<size_t>& steps) {
  for (size_t step : steps) {
    auto loaded = store.Load("run@" + std::to_string(step));
    INFO("step " << step << ": " << loaded.status().ToString());
    REQUIRE(loaded.ok());
    CHECK(series.Matches(step, *loaded));
  }
}

void RequireVerifies(Store& store) {
  auto verify = store.Verify(ReadAllData());
  REQUIRE(verify.ok());
  for (const auto& p : verify->problems) FAIL_CHECK(p.status.ToString());
}

std::vector<size_t> Iota(size_t n) {
  std::vector<size_t> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = i;
  return v;
}

}  // namespace

TEST_CASE("deltas of every dtype load bit-exact", "[integration][delta]") {
  TempDir dir;
  const Series series = MakeSeries(3);
  auto store = OpenWithDepth(dir.path(), 1);
  std::vector<uint64_t> new_bytes;
  for (size_t s = 0; s < series.steps(); ++s) {
    auto info = store->Save(series.Request(s));
    REQUIRE(info.ok());
    new_bytes.push_back(info->new_bytes);
  }
  auto stats = store->Stats();
  REQUIRE(stats.ok());
  CHECK(stats->delta_chunks > 0);
  CHECK(stats->max_delta_depth == 1);
  // Every chunk changed, yet the later saves store far less than the first.
  CHECK(new_bytes[1] * 2 < new_bytes[0]);
  RequireAllLoad(*store, series, Iota(series.steps()));
  RequireVerifies(*store);
  // One tensor and a byte range through a delta chain.
  auto detail = store->Describe("run@2");
  REQUIRE(detail.ok());
  const SaveRequest request = series.Request(2);
  const auto& f32 = request.tensors[11];
  REQUIRE(f32.dtype == DType::kF32);
  std::vector<uint8_t> range(100000);
  REQUIRE(store->LoadRange("run@2", f32.name, 70000, range.size(), range.data()).ok());
  CHECK(std::memcmp(range.data(), static_cast<const uint8_t*>(f32.data) + 70000, range.size()) ==
        0);
}

TEST_CASE("delta chains never pass the depth bound", "[integration][delta]") {
  for (int depth : {1, 3}) {
    INFO("delta_max_depth " << depth);
    TempDir dir;
    const Series series = MakeSeries(8);
    auto store = OpenWithDepth(dir.path(), depth);
    for (size_t s = 0; s < series.steps(); ++s) REQUIRE(store->Save(series.Request(s)).ok());
    auto stats = store->Stats();
    REQUIRE(stats.ok());
    CHECK(stats->max_delta_depth == static_cast<uint32_t>(depth));
    RequireAllLoad(*store, series, Iota(series.steps()));
    RequireVerifies(*store);
  }
}

TEST_CASE("a store with deltas off stores no delta", "[integration][delta]") {
  TempDir dir;
  const Series series = MakeSeries(2);
  auto store = OpenWithDepth(dir.path(), 0);
  for (size_t s = 0; s < series.steps(); ++s) REQUIRE(store->Save(series.Request(s)).ok());
  auto stats = store->Stats();
  REQUIRE(stats.ok());
  CHECK(stats->delta_chunks == 0);
  RequireAllLoad(*store, series, {0, 1});
}

TEST_CASE("a delta that saves less than a tenth is stored plain", "[integration][delta]") {
  TempDir dir;
  auto store = OpenWithDepth(dir.path(), 1);
  // Random bytes: the plain encoding is the raw bytes. Rewriting all but
  // the first 300 bytes of every 4 KiB leaves a delta of ~93% of that
  // (runs of zeros between noise); rewriting 1% of them, a few percent.
  const size_t size = 4 * 64 * 1024;  // 4 chunks each
  auto rewritten = RandomBytes(size, 1), touched = RandomBytes(size, 2);
  auto save = [&](uint64_t step) {
    SaveRequest r;
    r.run = "run";
    r.step = step;
    r.tensors.push_back({"rewritten", DType::kU8, {int64_t(size)}, rewritten.data(), size});
    r.tensors.push_back({"touched", DType::kU8, {int64_t(size)}, touched.data(), size});
    REQUIRE(store->Save(r).ok());
  };
  save(1);
  const auto noise = RandomBytes(size, 3);
  for (size_t i = 0; i < size; ++i) {
    if (i % 4096 >= 300) rewritten[i] = noise[i];
    if (i % 100 == 0) touched[i] = noise[i];
  }
  save(2);
  auto stats = store->Stats();
  REQUIRE(stats.ok());
  CHECK(stats->delta_chunks == 4);  // the chunks of "touched" only
  auto loaded = store->Load("run@2");
  REQUIRE(loaded.ok());
  CHECK(loaded->tensors[0].data == rewritten);
  CHECK(loaded->tensors[1].data == touched);
}

TEST_CASE("gc that removes the parents of delta chunks keeps their bases",
          "[integration][delta][gc]") {
  TempDir dir;
  const Series series = MakeSeries(7);
  auto store = OpenWithDepth(dir.path(), 4);
  for (size_t s = 0; s < 6; ++s) REQUIRE(store->Save(series.Request(s)).ok());
  RetentionPolicy policy;
  policy.keep_last = 1;
  REQUIRE(store->SetPolicy("", policy).ok());
  GcOptions gc;
  gc.grace_seconds = 0;
  gc.repack_threshold = 0.9;  // rewrite packs whose other chunks went
  auto report = store->Gc(gc);
  REQUIRE(report.ok());
  CHECK(report->checkpoints_removed == 5);
  RequireAllLoad(*store, series, {5});
  RequireVerifies(*store);
  // Run@5's chains reach down to run@1's chunks; a later save deltas on
  // top, and a second gc reclaims what no chain needs any more.
  REQUIRE(store->Save(series.Request(6)).ok());
  REQUIRE(store->Gc(gc).ok());
  RequireAllLoad(*store, series, {6});
  RequireVerifies(*store);
  store.reset();
  auto repaired = Store::Repair({}, dir.path());
  REQUIRE(repaired.ok());
  CHECK(repaired->chunks_unrecoverable == 0);
  CHECK(repaired->checkpoints_restored == 1);
  store = OpenWithDepth(dir.path(), 4);
  RequireAllLoad(*store, series, {6});
}

TEST_CASE("repair rebuilds delta chains from packs alone", "[integration][delta]") {
  TempDir dir;
  const Series series = MakeSeries(5);
  {
    auto store = OpenWithDepth(dir.path(), 3);
    for (size_t s = 0; s < series.steps(); ++s) REQUIRE(store->Save(series.Request(s)).ok());
  }
  std::filesystem::remove_all(dir.Sub("index"));
  auto repaired = Store::Repair({}, dir.path());
  REQUIRE(repaired.ok());
  CHECK(repaired->checkpoints_restored == series.steps());
  CHECK(repaired->chunks_unrecoverable == 0);
  auto store = OpenWithDepth(dir.path(), 3);
  auto stats = store->Stats();
  REQUIRE(stats.ok());
  CHECK(stats->max_delta_depth == 3);
  RequireAllLoad(*store, series, Iota(series.steps()));
  RequireVerifies(*store);
}

TEST_CASE("repair indexes a chunk stored whole and as a delta by its whole copy",
          "[integration][delta][repair]") {
  TempDir dir, other;
  const Series series = MakeSeries(2);
  {
    auto store = OpenWithDepth(dir.path(), 3);
    for (size_t s = 0; s < series.steps(); ++s) REQUIRE(store->Save(series.Request(s)).ok());
    REQUIRE(store->Stats()->delta_chunks > 0);
  }
  uint64_t whole_bytes = 0;  // step 1's chunks, every one stored whole
  {
    auto store = OpenWithDepth(other.path(), 3);
    auto info = store->Save(series.Request(1));
    REQUIRE(info.ok());
    whole_bytes = info->new_bytes;
  }
  // Step 1 again, saved later, in packs beside the ones with its deltas.
  for (const auto& f : std::filesystem::recursive_directory_iterator(other.Sub("packs"))) {
    if (!f.is_regular_file()) continue;
    auto to = std::filesystem::path(dir.Sub("packs")) /
              std::filesystem::relative(f.path(), other.Sub("packs"));
    std::filesystem::create_directories(to.parent_path());
    std::filesystem::copy_file(f.path(), to);
  }
  auto repaired = Store::Repair({}, dir.path());
  REQUIRE(repaired.ok());
  CHECK(repaired->chunks_unrecoverable == 0);
  CHECK(repaired->checkpoints_restored == 2);
  auto store = OpenWithDepth(dir.path(), 3);
  auto stats = store->Stats();
  REQUIRE(stats.ok());
  CHECK(stats->delta_chunks == 0);
  auto list = store->ListCheckpoints("run");
  REQUIRE(list.ok());
  REQUIRE(list->size() == 2);
  CHECK(list->back().new_bytes == whole_bytes);
  RequireAllLoad(*store, series, {0, 1});
  RequireVerifies(*store);
}

TEST_CASE("a damaged base names every checkpoint whose chunks chain through it",
          "[integration][delta][corruption]") {
  TempDir dir;
  const Series series = MakeSeries(4);
  std::string first_pack;
  {
    StoreOptions options;
    options.delta_max_depth = 4;
    auto store = MustOpen(dir.path(), options);  // one pack per save
    REQUIRE(store->Save(series.Request(0)).ok());
    auto names = NewLocalBackend(dir.path())->List("packs/");
    REQUIRE(names.ok());
    REQUIRE(names->size() == 1);
    first_pack = dir.path() + "/" + names->front();
    for (size_t s = 1; s < series.steps(); ++s) REQUIRE(store->Save(series.Request(s)).ok());
  }
  {
    // Damage the first chunk in run@0's pack: the base of every later
    // version of that chunk.
    std::fstream f(first_pack, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(20);
    f.put('\x55');
  }
  StoreOptions options;
  options.delta_max_depth = 4;
  auto store = MustOpen(dir.path(), options);
  auto report = store->Verify(ReadAllData());
  REQUIRE(report.ok());
  REQUIRE_FALSE(report->ok());
  std::set<std::string> named;
  for (const auto& p : report->problems) named.insert(p.checkpoints.begin(), p.checkpoints.end());
  CHECK(named == std::set<std::string>{"run@0", "run@1", "run@2", "run@3"});
  auto loaded = store->Load("run@3");
  REQUIRE_FALSE(loaded.ok());
  CHECK(loaded.status().code() == Code::kCorruption);
  CHECK_THAT(loaded.status().message(), Catch::Contains("damaged base"));
}

TEST_CASE("tensors declared unchanged reuse the parent's chunks unread", "[integration][delta]") {
  TempDir dir;
  auto store = MustOpen(dir.path());
  auto frozen = RandomBytes(300 * 1024, 1);
  auto head = RandomBytes(64 * 1024, 2);
  SaveRequest first;
  first.run = "run";
  first.step = 0;
  first.tensors.push_back({"frozen", DType::kF32, {300 * 256}, frozen.data(), frozen.size()});
  first.tensors.push_back({"head", DType::kF32, {16 * 1024}, head.data(), head.size()});
  REQUIRE(store->Save(first).ok());

  // Garbage where the frozen tensor would be: a hint means it is not read.
  std::vector<uint8_t> garbage(frozen.size(), 0xAB);
  SaveRequest second = first;
  second.step = 1;
  second.tensors[0].data = garbage.data();
  second.tensors[0].unchanged_since_parent = true;
  auto info = store->Save(second);
  REQUIRE(info.ok());
  std::vector<uint8_t> out(frozen.size());
  REQUIRE(store->LoadEntry("run@1", "frozen", out.data(), out.size()).ok());
  CHECK(out == frozen);

  SECTION("the debug check catches a wrong hint and stores nothing") {
    SaveOptions check;
    check.check_unchanged_hints = true;
    second.step = 2;
    auto wrong = store->Save(second, check);
    REQUIRE_FALSE(wrong.ok());
    CHECK(wrong.status().code() == Code::kInvalidArgument);
    CHECK_THAT(wrong.status().message(),
               Catch::Contains("'frozen'") && Catch::Contains("has changed"));
    CHECK_FALSE(store->Resolve("run@2").ok());
    second.tensors[0].data = frozen.data();  // a true hint passes the check
    REQUIRE(store->Save(second, check).ok());
  }
  SECTION("a hint the parent cannot honour is bad input") {
    second.step = 3;
    second.tensors[0].shape = {300, 256};  // same bytes, other shape
    auto s = store->Save(second);
    CHECK(s.status().code() == Code::kInvalidArgument);
    SaveRequest orphan = second;
    orphan.run = "other";  // no parent at all
    orphan.tensors[0].shape = {300 * 256};
    CHECK(store->Save(orphan).status().code() == Code::kInvalidArgument);
  }
}

TEST_CASE("a save never builds a delta on a base that read back damaged",
          "[integration][delta][corruption]") {
  TempDir dir;
  const Series series = MakeSeries(2);
  auto faulty = std::make_shared<FaultInjectingBackend>(NewLocalBackend(dir.path()));
  StoreOptions options;
  options.backend = faulty;
  auto store = MustOpen(dir.path(), options);
  REQUIRE(store->Save(series.Request(0)).ok());
  // Every base the next save reads comes back with one byte flipped (the
  // packs on disk stay sound): the bases' frame checksums must catch it,
  // so the chunks are stored whole instead of as deltas over wrong bytes.
  faulty->CorruptGetsOf("packs/");
  REQUIRE(store->Save(series.Request(1)).ok());
  faulty->CorruptGetsOf("");
  RequireAllLoad(*store, series, {0, 1});
  RequireVerifies(*store);
  auto stats = store->Stats();
  REQUIRE(stats.ok());
  CHECK(stats->delta_chunks == 0);
}
