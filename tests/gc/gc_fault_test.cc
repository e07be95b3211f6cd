// Faults during a repack: gc stops with a clear error, nothing kept is
// lost, the store verifies, and the next gc completes the work.
#include <catch2/catch.hpp>

#include "doubles/fault_injecting_backend.h"
#include "store/store_fixture.h"

using namespace ckpt;
using namespace ckpt::test;
using ckpt::internal::FaultInjectingBackend;
using ckpt::internal::FaultKind;

namespace {

// run@4 and run@5 (the last two, which the tests' policy keeps) load
// bit-exact, and the store verifies.
void CheckKept(Store& store) {
  for (uint64_t step : {4, 5}) {
    auto loaded = store.Load("run@" + std::to_string(step));
    REQUIRE(loaded.ok());
    CHECK(StepState(step).Matches(*loaded));
  }
  auto verify = store.Verify(ReadAllData());
  REQUIRE(verify.ok());
  for (const auto& p : verify->problems) FAIL_CHECK(p.status.ToString());
}

// A store on `faulty` with run@0..run@5 saved and a policy keeping the
// last two.
std::unique_ptr<Store> SixStepsKeepTwo(const std::string& dir,
                                       std::shared_ptr<FaultInjectingBackend> faulty,
                                       uint64_t pack_target_size) {
  StoreOptions options;
  options.backend = std::move(faulty);
  options.pack_target_size = pack_target_size;
  auto store = MustOpen(dir, options);
  for (uint64_t step = 0; step < 6; ++step)
    REQUIRE(store->Save(StepState(step).Request("run", step)).ok());
  RetentionPolicy policy;
  policy.keep_last = 2;
  REQUIRE(store->SetPolicy("run", policy).ok());
  return store;
}

}  // namespace

TEST_CASE("EIO or ENOSPC while gc repacks loses nothing kept", "[gc][fault]") {
  auto kind = GENERATE(FaultKind::kIOError, FaultKind::kNoSpace, FaultKind::kTornWrite);
  TempDir dir;
  auto faulty = std::make_shared<FaultInjectingBackend>(NewLocalBackend(dir.path()));
  // One pack per save: removing steps leaves sparse packs.
  auto store = SixStepsKeepTwo(dir.path(), faulty, 8 << 20);

  // Removing 4 checkpoints writes 4 tombstones; the 5th write is the repack's.
  faulty->FailPutAt(5, kind);
  GcOptions gc;
  gc.grace_seconds = 0;
  auto failed = store->Gc(gc);
  INFO("faults: " << (faulty->Log().empty() ? "none" : faulty->Log().front()));
  REQUIRE_FALSE(failed.ok());
  CHECK_THAT(failed.status().message(), Catch::Contains("repack") && Catch::Contains("injected"));
  CHECK(failed.status().code() == (kind == FaultKind::kNoSpace ? Code::kNoSpace : Code::kIOError));

  CheckKept(*store);

  faulty->Clear();
  auto report = store->Gc(gc);
  REQUIRE(report.ok());
  CHECK(report->packs_repacked >= 1);
  CheckKept(*store);
  auto again = store->Gc(gc);
  REQUIRE(again.ok());
  CHECK(again->packs_repacked == 0);
  CHECK(again->chunks_removed == 0);
}

TEST_CASE("a failed deletion in gc is reported and loses nothing kept", "[gc][fault]") {
  TempDir dir;
  auto faulty = std::make_shared<FaultInjectingBackend>(NewLocalBackend(dir.path()));
  // Several packs per save: some die whole.
  auto store = SixStepsKeepTwo(dir.path(), faulty, 1 << 20);
  GcOptions gc;
  gc.grace_seconds = 0;

  // Every deletion call from the first on: the pack files' batch deletions
  // (RemoveMany, RemoveManyUnsynced) and single removals alike.
  const uint64_t nth = GENERATE(1, 2, 3);
  INFO("deletion call " << nth << " fails");
  faulty->FailRemoveAt(nth);
  auto failed = store->Gc(gc);
  const bool fired = !faulty->Log().empty();
  if (fired) {
    INFO("faults: " << faulty->Log().front());
    REQUIRE_FALSE(failed.ok());
    CHECK(failed.status().code() == Code::kIOError);
    CHECK_THAT(failed.status().message(), Catch::Contains("injected"));
  }
  CheckKept(*store);
  faulty->Clear();
  auto report = store->Gc(gc);
  REQUIRE(report.ok());
  CheckKept(*store);
  CHECK(store->Load("run@0").status().code() == Code::kNotFound);
}
