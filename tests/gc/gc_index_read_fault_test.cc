// Read errors under the index while gc decides what to keep. gc reads the
// index to plan (runs, checkpoints, tags, policies), to remove (each
// checkpoint's tags again, under the lock), and to sweep (chunk and pack
// entries): a read that fails anywhere must stop gc with the error, never
// make it act on a partial answer. With the n-th index read failing, for
// every n the gc reaches: the tagged checkpoint and the ones the policy
// keeps are never removed, the store verifies, and gc reports the error.
// RocksDB reads a small table whole from its tail when a view or session
// opens it, so on this store the failing reads land in those opens (one
// per step); an entry that cannot be read in the middle of a scan is the
// damaged-tag case below.
#include <boost/filesystem.hpp>
#include <catch2/catch.hpp>

#include "doubles/index_fault_fs.h"
#include "index/index.h"
#include "repo/store_context.h"
#include "store/store_fixture.h"

using namespace ckpt;
using namespace ckpt::test;
using ckpt::internal::IndexEnvScope;
using ckpt::internal::IndexFaultInjector;

namespace {

constexpr uint64_t kSteps = 8;
constexpr uint64_t kTaggedStep = 1;  // old, unkept by the policy, but tagged
constexpr uint64_t kKeepLast = 3;    // steps 5, 6, 7

bool KeptByRule(uint64_t step) { return step == kTaggedStep || step >= kSteps - kKeepLast; }

// A store whose run "r" has kSteps checkpoints, a stored policy that keeps
// the last kKeepLast, and a tag on an old one.
void MakeTemplate(const std::string& dir) {
  auto store = MustOpen(dir);
  for (uint64_t step = 0; step < kSteps; ++step)
    REQUIRE(store->Save(StepState(step).Request("r", step)).ok());
  REQUIRE(store->Tag("r@" + std::to_string(kTaggedStep), "keep-me").ok());
  RetentionPolicy policy;
  policy.keep_last = kKeepLast;
  REQUIRE(store->SetPolicy("r", policy).ok());
  store.reset();
  // Everything into table files: gc's reads then go to the disk (a fresh
  // session replays a small log into memory and would read tags from there).
  auto index = internal::Index::Open(internal::IndexDirOf(dir), false, false);
  REQUIRE(index.ok());
  REQUIRE((*index)->CompactAll().ok());
  REQUIRE((*index)->Close().ok());
}

GcOptions CollectNow() {
  GcOptions gc;
  gc.grace_seconds = 0;          // packs go as soon as nothing needs them
  gc.compact_after_entries = 0;  // and the index is compacted: every step runs
  return gc;
}

// What the store holds after a gc that failed or succeeded: every kept
// checkpoint exact, every other one exact or gone (gone for sure if gc
// reported success), the tag in place, nothing damaged.
void CheckStore(Store& store, bool gc_ok) {
  auto report = store.Verify(ReadAllData());
  REQUIRE(report.ok());
  for (const auto& p : report->problems) FAIL_CHECK(p.status.ToString());
  for (uint64_t step = 0; step < kSteps; ++step) {
    INFO("r@" << step);
    auto loaded = store.Load("r@" + std::to_string(step));
    if (KeptByRule(step)) {
      REQUIRE(loaded.ok());
      CHECK(StepState(step).Matches(*loaded));
    } else if (loaded.ok()) {
      CHECK_FALSE(gc_ok);  // a gc that reports success did its removals
      CHECK(StepState(step).Matches(*loaded));
    } else {
      CHECK(loaded.status().code() == Code::kNotFound);
    }
  }
  auto tagged = store.Resolve("keep-me");
  REQUIRE(tagged.ok());
  CHECK(tagged->step == kTaggedStep);
}

}  // namespace

TEST_CASE("index read errors during gc never remove what is kept", "[fault][gc]") {
  const bool sticky = GENERATE(false, true);  // one failed read, or a dying disk
  IndexFaultInjector injector;
  IndexEnvScope scope(injector.env());
  TempDir base;
  MakeTemplate(base.path() + "/store");
  uint64_t failed_runs = 0;
  uint64_t nth = 1;
  for (;; nth += nth < 64 ? 1 : 4) {
    INFO("index read " << nth << " fails" << (sticky ? ", and every one after" : ""));
    TempDir dir;
    boost::filesystem::copy(base.path() + "/store", dir.path() + "/store",
                            boost::filesystem::copy_options::recursive);
    const std::string path = dir.path() + "/store";
    bool gc_ok = false;
    bool fired = false;
    {
      auto store = MustOpen(path);
      injector.FailNthRead(nth, sticky);
      auto collected = store->Gc(CollectNow());
      injector.Disarm();
      fired = injector.fired();
      gc_ok = collected.ok();
      if (!collected.ok()) {
        ++failed_runs;
        INFO(collected.status().ToString());
        CHECK((collected.status().code() == Code::kIOError ||
               collected.status().code() == Code::kCorruption));
      }
    }
    auto store = MustOpen(path);
    CheckStore(*store, gc_ok);
    // Once the disk reads again, gc finishes the job.
    auto again = store->Gc(CollectNow());
    REQUIRE(again.ok());
    CheckStore(*store, true);
    if (!fired) break;  // this gc made fewer than n index reads
    REQUIRE(nth < 5000);
  }
  CHECK(nth > 20);          // the faults landed inside gc
  CHECK(failed_runs > 10);  // and gc reported them
}

TEST_CASE("a tag that cannot be read stops gc and delete", "[fault][gc]") {
  TempDir dir;
  const std::string path = dir.path() + "/store";
  MakeTemplate(path);
  {
    // A damaged index entry: a tag whose value is not a checkpoint id.
    auto index = internal::Index::Open(internal::IndexDirOf(path), false, false);
    REQUIRE(index.ok());
    internal::IndexBatch batch;
    batch.Put("Tdamaged", "xyz");
    REQUIRE((*index)->Commit(batch).ok());
    REQUIRE((*index)->Close().ok());
  }
  auto store = MustOpen(path);
  auto collected = store->Gc(CollectNow());
  REQUIRE_FALSE(collected.ok());
  CHECK(collected.status().code() == Code::kCorruption);
  CHECK_THAT(collected.status().message(), Catch::Contains("damaged"));
  Status deleted = store->Delete("r@" + std::to_string(kTaggedStep));
  CHECK(deleted.code() == Code::kCorruption);
  CHECK(store->Describe("r@0").status().code() == Code::kCorruption);
  // Nothing was removed: every checkpoint still loads.
  for (uint64_t step = 0; step < kSteps; ++step) {
    auto loaded = store->Load("r@" + std::to_string(step));
    REQUIRE(loaded.ok());
    CHECK(StepState(step).Matches(*loaded));
  }
}
