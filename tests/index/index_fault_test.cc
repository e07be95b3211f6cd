// Injected faults under the index itself: RocksDB's write-ahead log,
// MANIFEST, table and CURRENT files fail with EIO or ENOSPC at the n-th
// write, flush, sync or rename, for every n a sequence of save, tag, delete
// and gc reaches. Each call either succeeds or fails with a clear error;
// afterwards the store opens, verifies, and every committed checkpoint
// loads bit-exact.
#include <boost/filesystem.hpp>
#include <catch2/catch.hpp>

#include "doubles/index_fault_fs.h"
#include "index/index.h"
#include "store/store_fixture.h"

using namespace ckpt;
using namespace ckpt::test;
using ckpt::internal::IndexEnvScope;
using ckpt::internal::IndexFault;
using ckpt::internal::IndexFaultInjector;

namespace {

// An error a failing disk may cause: an I/O error or a full disk, never a
// wrong answer.
void CheckDiskError(const Status& s, IndexFault fault) {
  INFO(s.ToString());
  if (fault == IndexFault::kNoSpace)
    CHECK((s.code() == Code::kNoSpace || s.code() == Code::kIOError));
  else
    CHECK(s.code() == Code::kIOError);
}

// `ref` either does not resolve or loads exactly `state`.
void CheckAbsentOrExact(Store& store, const std::string& ref, const StepState& state) {
  auto loaded = store.Load(ref);
  if (loaded.ok()) {
    CHECK(state.Matches(*loaded));
  } else {
    CHECK(loaded.status().code() == Code::kNotFound);
  }
}

struct Outcome {
  bool fired = false;
  bool saved = false, deleted = false;
};

// A store with two committed checkpoints, run@0 and run@1.
void MakeTemplate(const std::string& dir) {
  auto store = MustOpen(dir);
  for (uint64_t step = 0; step < 2; ++step)
    REQUIRE(store->Save(StepState(step).Request("run", step)).ok());
}

// On a copy of the template, with the n-th index write failing: a save, a
// tag, a delete and a gc that compacts.
Outcome RunWithFault(const std::string& dir, IndexFaultInjector& injector, uint64_t nth,
                     IndexFault fault, bool sticky) {
  Outcome out;
  auto store = MustOpen(dir);
  injector.FailNth(nth, fault, sticky);
  auto saved = store->Save(StepState(2).Request("run", 2));
  out.saved = saved.ok();
  if (!saved.ok()) CheckDiskError(saved.status(), fault);
  Status tagged = store->Tag("run@0", "first");
  if (!tagged.ok()) CheckDiskError(tagged, fault);
  Status deleted = store->Delete("run@1");
  out.deleted = deleted.ok();
  if (!deleted.ok()) CheckDiskError(deleted, fault);
  GcOptions gc;
  gc.policy = RetentionPolicy();
  gc.policy->keep_last = 10;
  gc.grace_seconds = 0;
  gc.compact_after_entries = 0;
  auto collected = store->Gc(gc);
  if (!collected.ok()) CheckDiskError(collected.status(), fault);
  injector.Disarm();
  out.fired = injector.fired();
  return out;
}

}  // namespace

TEST_CASE("faults in the index's own files lose nothing committed", "[fault][index]") {
  // A one-off EIO or ENOSPC, and an EIO that stays (a dead disk).
  const auto [fault, sticky] = GENERATE(std::make_pair(IndexFault::kIoError, false),
                                        std::make_pair(IndexFault::kNoSpace, false),
                                        std::make_pair(IndexFault::kIoError, true));
  IndexFaultInjector injector;
  IndexEnvScope scope(injector.env());
  TempDir base;
  MakeTemplate(base.path() + "/store");
  // Every one of the first writes (opening, the save's commit), then every
  // 6th: the sequence makes ~280, each run costs a quarter second of fsyncs.
  uint64_t nth = 1;
  for (;; nth += nth < 24 ? 1 : 6) {
    INFO("fault at index write " << nth << (sticky ? ", and every one after" : ""));
    TempDir dir;
    boost::filesystem::copy(base.path() + "/store", dir.path() + "/store",
                            boost::filesystem::copy_options::recursive);
    const std::string path = dir.path() + "/store";
    const Outcome out = RunWithFault(path, injector, nth, fault, sticky);
    auto store = MustOpen(path);
    auto report = store->Verify(ReadAllData());
    REQUIRE(report.ok());
    for (const auto& p : report->problems) FAIL_CHECK(p.status.ToString());
    auto first = store->Load("run@0");
    REQUIRE(first.ok());
    CHECK(StepState(0).Matches(*first));
    if (out.deleted) {
      CHECK(store->Load("run@1").status().code() == Code::kNotFound);
    } else {
      CheckAbsentOrExact(*store, "run@1", StepState(1));
    }
    if (out.saved) {
      auto loaded = store->Load("run@2");
      REQUIRE(loaded.ok());
      CHECK(StepState(2).Matches(*loaded));
    } else {
      CheckAbsentOrExact(*store, "run@2", StepState(2));
    }
    // The store takes new work once the disk is well again.
    REQUIRE(store->Save(StepState(3).Request("run", 3)).ok());
    if (!out.fired) break;  // the sequence ended before its n-th index write
    REQUIRE(nth < 2000);
  }
  CHECK(nth > 10);  // the faults did land inside the sequence
}
