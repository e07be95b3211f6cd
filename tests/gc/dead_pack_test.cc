// Format 3's index rule, end to end: gc condemns a whole pack by deleting
// its 'P' key, chunk entries into it stop counting at once, a compaction
// drops them later, and the pack's 'G' key and tombstones go in their turn.
#include <boost/filesystem.hpp>
#include <catch2/catch.hpp>

#include "ckpt/version.h"
#include "doubles/fault_injecting_backend.h"
#include "index/index.h"
#include "pack/pack_format.h"
#include "repo/store_context.h"
#include "store/store_fixture.h"

using namespace ckpt;
using namespace ckpt::test;
using namespace ckpt::internal;
namespace fs = boost::filesystem;

namespace {

GcOptions KeepLast(int n, int64_t grace_seconds) {
  GcOptions options;
  options.policy = RetentionPolicy();
  options.policy->keep_last = n;
  options.grace_seconds = grace_seconds;
  return options;
}

std::unique_ptr<Index> OpenIndex(const std::string& dir, bool read_only = true) {
  auto index = Index::Open(IndexDirOf(dir), false, read_only);
  if (!index.ok()) throw std::runtime_error(index.status().ToString());
  return std::move(index).value();
}

size_t CountKeys(const std::string& dir, const std::string& prefix, bool non_empty_only = false) {
  size_t n = 0;
  auto index = OpenIndex(dir);
  REQUIRE(index
              ->Scan(prefix,
                     [&](auto, std::string_view v) {
                       if (!non_empty_only || !v.empty()) ++n;
                       return true;
                     })
              .ok());
  return n;
}

struct EntryCounts {
  size_t raw = 0;      // 'C' keys in the database
  size_t present = 0;  // of those, the ones FindChunk reports
};

EntryCounts CountEntries(const std::string& dir) {
  EntryCounts counts;
  auto index = OpenIndex(dir);
  std::vector<Digest> digests;
  REQUIRE(index
              ->Scan("C",
                     [&](std::string_view k, auto) {
                       digests.push_back(Digest::FromView(k.substr(1)));
                       return true;
                     })
              .ok());
  counts.raw = digests.size();
  for (const auto& d : digests) {
    auto found = index->FindChunk(d);
    REQUIRE(found.ok());
    if (*found) counts.present++;
  }
  return counts;
}

std::map<std::string, std::string> ChunkEntries(const std::string& dir) {
  std::map<std::string, std::string> out;
  auto index = OpenIndex(dir);
  REQUIRE(index
              ->Scan("C",
                     [&](std::string_view k, std::string_view v) {
                       out.emplace(k, v);
                       return true;
                     })
              .ok());
  return out;
}

void RequireClean(Store& store) {
  auto verify = store.Verify(ReadAllData());
  REQUIRE(verify.ok());
  for (const auto& p : verify->problems) FAIL_CHECK(p.status.ToString());
}

// One tensor of `size` random bytes from `seed`, as run@step.
struct OneTensor {
  std::vector<uint8_t> bytes;
  OneTensor(size_t size, uint64_t seed) : bytes(RandomBytes(size, seed)) {}
  SaveRequest Request(const std::string& run, uint64_t step) const {
    SaveRequest r;
    r.run = run;
    r.step = step;
    r.tensors.push_back(
        {"x", DType::kU8, {static_cast<int64_t>(bytes.size())}, bytes.data(), bytes.size()});
    return r;
  }
  bool LoadsFrom(Store& store, const std::string& ref) const {
    auto loaded = store.Load(ref);
    return loaded.ok() && loaded->tensors.size() == 1 && loaded->tensors[0].data == bytes;
  }
};

// a@0 and b@0 saved into packs of their own, then a@0 deleted: its pack
// holds nothing live.
struct DeletedA {
  TempDir dir;
  std::unique_ptr<Store> store = MustOpen(dir.path());
  const OneTensor a{1 << 20, 1}, b{1 << 20, 2};
  DeletedA() {
    REQUIRE(store->Save(a.Request("a", 0)).ok());
    REQUIRE(store->Save(b.Request("b", 0)).ok());
    REQUIRE(store->Delete("a@0").ok());
  }
};

}  // namespace

TEST_CASE("chunk entries into a condemned pack stop counting at once", "[integration][gc]") {
  DeletedA setup;
  auto& [dir, store, a, b] = setup;
  const EntryCounts before = CountEntries(dir.path());
  CHECK(before.raw == before.present);

  // A long grace period: the pack file stays, condemned.
  auto report = store->Gc(KeepLast(10, 3600));
  REQUIRE(report.ok());
  CHECK(report->chunks_removed >= 16);  // a@0's 16 chunks of 64 KiB
  CHECK(report->packs_pending == 1);
  CHECK(CountKeys(dir.path(), "D") == 1);
  const EntryCounts after = CountEntries(dir.path());
  CHECK(after.raw == before.raw);               // no entry was deleted one by one...
  CHECK(after.present == before.present - 16);  // ...and a@0's count no more
  auto stats = store->Stats();
  REQUIRE(stats.ok());
  CHECK(stats->chunks == after.present);

  // The same bytes saved again are written again, not deduplicated against
  // the condemned pack.
  auto again = store->Save(a.Request("a", 1));
  REQUIRE(again.ok());
  CHECK(again->new_raw_bytes == a.bytes.size());
  CHECK(a.LoadsFrom(*store, "a@1"));
  CHECK(b.LoadsFrom(*store, "b@0"));
  RequireClean(*store);
}

TEST_CASE("deleted packs: tombstones retire a gc later, compaction forgets the rest",
          "[integration][gc]") {
  TempDir dir;
  auto store = MustOpen(dir.path());
  const OneTensor a(1 << 20, 1), b(1 << 20, 2);
  auto a_info = store->Save(a.Request("a", 0));
  REQUIRE(a_info.ok());
  REQUIRE(store->Save(b.Request("b", 0)).ok());
  REQUIRE(store->Delete("a@0").ok());
  const std::string tombstone = dir.path() + "/refs/deleted/" + a_info->id;
  REQUIRE(fs::exists(tombstone));

  auto first = store->Gc(KeepLast(10, 0));
  REQUIRE(first.ok());
  CHECK(first->packs_deleted == 1);
  CHECK(CountKeys(dir.path(), "D") == 0);
  CHECK(CountKeys(dir.path(), "G", true) == 1);  // lists a@0's manifest
  CHECK(fs::exists(tombstone));                  // until the pack's deletion is known durable

  auto second = store->Gc(KeepLast(10, 0));
  REQUIRE(second.ok());
  CHECK(second->packs_deleted == 0);
  CHECK(CountKeys(dir.path(), "G") == 1);
  CHECK(CountKeys(dir.path(), "G", true) == 0);
  CHECK_FALSE(fs::exists(tombstone));

  const EntryCounts lingering = CountEntries(dir.path());
  CHECK(lingering.raw == lingering.present + 16);
  {
    auto index = OpenIndex(dir.path(), false);
    REQUIRE(index->CompactAll().ok());
  }
  const EntryCounts compacted = CountEntries(dir.path());
  CHECK(compacted.raw == compacted.present);
  CHECK(compacted.present == lingering.present);
  CHECK(CountKeys(dir.path(), "G") == 0);
  CHECK(b.LoadsFrom(*store, "b@0"));
  RequireClean(*store);
}

TEST_CASE("gc compacts the index once it made enough entries dead", "[integration][gc]") {
  DeletedA setup;
  auto& [dir, store, a, b] = setup;
  const EntryCounts before = CountEntries(dir.path());

  GcOptions options = KeepLast(10, 3600);  // the pack stays, condemned
  options.compact_after_entries = 17;      // a@0's 16 chunks and its manifest
  auto report = store->Gc(options);
  REQUIRE(report.ok());
  CHECK(report->packs_pending == 1);
  CHECK(report->index_compacted);
  REQUIRE(report->step_seconds.size() == 8);
  REQUIRE(report->step_seconds[6].first == "compact");
  const EntryCounts after = CountEntries(dir.path());
  CHECK(after.raw == after.present);  // dropped, not just uncounted
  CHECK(after.present == before.present - 16);
  CHECK(b.LoadsFrom(*store, "b@0"));
  RequireClean(*store);

  // Below the threshold it leaves the entries to a later compaction.
  REQUIRE(store->Delete("b@0").ok());
  options.compact_after_entries = 18;
  report = store->Gc(options);
  REQUIRE(report.ok());
  CHECK_FALSE(report->index_compacted);
  const EntryCounts lingering = CountEntries(dir.path());
  CHECK(lingering.present == 0);
  CHECK(lingering.raw == 16);
}

TEST_CASE("a compaction drops the entries of packs condemned in the same session",
          "[integration][gc]") {
  TempDir dir;
  auto store = MustOpen(dir.path());
  const OneTensor a(1 << 20, 1);
  REQUIRE(store->Save(a.Request("a", 0)).ok());
  store.reset();
  REQUIRE(CountEntries(dir.path()).raw == 16);
  {
    // Its filter was set up at open, with no condemned pack yet.
    auto index = OpenIndex(dir.path(), false);
    std::vector<std::string> packs;
    REQUIRE(index
                ->Scan("P",
                       [&](std::string_view k, auto) {
                         packs.push_back(PackIdOfKey(k));
                         return true;
                       })
                .ok());
    REQUIRE(packs.size() == 1);
    IndexBatch batch;
    batch.Delete(PackKey(packs[0]));
    batch.Put(CondemnedKey(packs[0]), std::string(8, '\0'));
    REQUIRE(index->Commit(batch).ok());
    REQUIRE(index->CompactAll().ok());
  }
  CHECK(CountEntries(dir.path()).raw == 0);
}

TEST_CASE("a pack file back after gc deleted it goes at the next gc", "[integration][gc]") {
  TempDir saved;
  DeletedA setup;
  auto& [dir, store, a, b] = setup;
  // What an unsynced unlink lost in a crash would bring back.
  fs::copy(dir.path() + "/packs", saved.path() + "/packs", fs::copy_options::recursive);
  REQUIRE(store->Gc(KeepLast(10, 0)).ok());
  std::vector<std::string> back;
  for (auto& e : fs::recursive_directory_iterator(saved.path() + "/packs")) {
    if (!fs::is_regular_file(e.path())) continue;
    std::string rel = e.path().string().substr(saved.path().size());
    if (!fs::exists(dir.path() + rel)) {
      fs::copy_file(e.path(), dir.path() + rel);
      back.push_back(dir.path() + rel);
    }
  }
  REQUIRE(back.size() == 1);
  REQUIRE(store->Gc(KeepLast(10, 0)).ok());
  CHECK_FALSE(fs::exists(back[0]));
  RequireClean(*store);
  store.reset();
  auto repaired = Store::Repair(StoreOptions(), dir.path());
  REQUIRE(repaired.ok());
  store = MustOpen(dir.path());
  CHECK_FALSE(store->Load("a@0").ok());
  CHECK(b.LoadsFrom(*store, "b@0"));
}

TEST_CASE("of two saves storing the same chunk, the first entry stays", "[integration][gc]") {
  TempDir dir;
  auto faulty = std::make_shared<FaultInjectingBackend>(NewLocalBackend(dir.path()));
  StoreOptions options;
  options.backend = faulty;
  auto store = MustOpen(dir.path(), options);
  auto other = MustOpen(dir.path());
  const OneTensor shared(1 << 20, 5);
  std::map<std::string, std::string> entries_before;
  faulty->BeforeNextPut("packs/", [&] {
    REQUIRE(other->Save(shared.Request("b", 0)).ok());
    entries_before = ChunkEntries(dir.path());
  });
  auto late = store->Save(shared.Request("a", 0));
  REQUIRE(late.ok());
  CHECK(ChunkEntries(dir.path()) == entries_before);
  // The chunks live on in b@0's pack; a@0 needs them there.
  REQUIRE(store->Delete("b@0").ok());
  REQUIRE(store->Gc(KeepLast(10, 0)).ok());
  CHECK(shared.LoadsFrom(*store, "a@0"));
  RequireClean(*store);
}

TEST_CASE("a store of a development format is refused and left as it is", "[integration][store]") {
  TempDir dir;
  const OneTensor a(1 << 18, 1);
  {
    auto store = MustOpen(dir.path());
    REQUIRE(store->Save(a.Request("a", 0)).ok());
  }
  const std::string config = dir.path() + "/config";
  auto bytes = ReadFileBytes(config);
  std::string text(bytes.begin(), bytes.end());
  const std::string current = "format_version=" + std::to_string(kFormatVersion);
  text.replace(text.find(current), current.size(), "format_version=3");
  WriteFileBytes(config, text.data(), text.size());
  for (bool read_only : {true, false}) {
    StoreOptions options;
    options.read_only = read_only;
    auto store = Store::Open(options, dir.path());
    CHECK(store.status().code() == ckpt::Code::kVersionMismatch);
  }
  CHECK(Store::Repair(StoreOptions(), dir.path()).status().code() == ckpt::Code::kVersionMismatch);
  bytes = ReadFileBytes(config);
  CHECK(std::string(bytes.begin(), bytes.end()) == text);
}

TEST_CASE("gc sweeps a pack whose own index is damaged from the chunk entries",
          "[integration][gc]") {
  TempDir dir;
  auto store = MustOpen(dir.path());
  const OneTensor x(1 << 20, 1), y(1 << 20, 2);
  SaveRequest both = x.Request("a", 0);
  both.tensors.push_back({"y", DType::kU8, {1 << 20}, y.bytes.data(), y.bytes.size()});
  REQUIRE(store->Save(both).ok());
  REQUIRE(store->Save(x.Request("a", 1)).ok());  // x's chunks live on, y's do not
  REQUIRE(store->Delete("a@0").ok());
  std::vector<std::string> packs;
  for (auto& e : fs::recursive_directory_iterator(dir.path() + "/packs"))
    if (fs::is_regular_file(e.path())) packs.push_back(e.path().string());
  REQUIRE(packs.size() == 2);
  for (const auto& path : packs) {
    // Damage the trailer of the pack that holds x and y (the larger one).
    if (fs::file_size(path) < (2u << 20)) continue;
    auto bytes = ReadFileBytes(path);
    bytes[bytes.size() - 1] ^= 0xff;
    WriteFileBytes(path, bytes.data(), bytes.size());
  }
  const EntryCounts before = CountEntries(dir.path());
  auto report = store->Gc(KeepLast(10, 3600));
  REQUIRE(report.ok());
  CHECK(report->chunks_removed == 16);  // y's 16 chunks of 64 KiB
  const EntryCounts after = CountEntries(dir.path());
  CHECK(after.raw == before.raw - 16);
  CHECK(after.present == after.raw);
  CHECK(x.LoadsFrom(*store, "a@1"));
}

TEST_CASE("gc reads no pack whose every entry is live", "[integration][gc]") {
  TempDir dir;
  auto faulty = std::make_shared<FaultInjectingBackend>(NewLocalBackend(dir.path()));
  StoreOptions options;
  options.backend = faulty;
  auto store = MustOpen(dir.path(), options);
  const OneTensor a(1 << 20, 1), b(1 << 20, 2);
  REQUIRE(store->Save(a.Request("a", 0)).ok());
  REQUIRE(store->Save(b.Request("b", 0)).ok());
  faulty->CorruptGetsOf("packs/");  // logs every read of a pack
  auto report = store->Gc(KeepLast(10, 0));
  REQUIRE(report.ok());
  CHECK(report->chunks_removed == 0);
  CHECK(faulty->Log().empty());
  faulty->CorruptGetsOf("");
  // With a dead entry in a pack, that pack is read (and only it).
  REQUIRE(store->Delete("a@0").ok());
  SaveRequest both = b.Request("c", 0);
  both.tensors.push_back(
      {"y", DType::kU8, {static_cast<int64_t>(a.bytes.size())}, a.bytes.data(), a.bytes.size()});
  REQUIRE(store->Save(both).ok());  // reuses a@0's chunks: its pack stays, with a dead manifest
  REQUIRE(store->Delete("b@0").ok());
  faulty->CorruptGetsOf("packs/");
  report = store->Gc(KeepLast(10, 3600));
  faulty->CorruptGetsOf("");
  REQUIRE(report.ok());
  CHECK_FALSE(faulty->Log().empty());
  CHECK(a.LoadsFrom(*store, "a@0") == false);
  RequireClean(*store);
}
