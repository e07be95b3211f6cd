// The race gc's protocol exists for, forced: a gc (its own Store, as a cron
// job would be) runs to completion while a save is writing its packs, after
// the save found chunks stored and picked delta bases, and before it
// commits. The save must notice and write again whatever that gc reclaimed.
#include <catch2/catch.hpp>

#include "doubles/fault_injecting_backend.h"
#include "store/store_fixture.h"

using namespace ckpt;
using namespace ckpt::test;
using ckpt::internal::FaultInjectingBackend;

namespace {

GcOptions NoGrace() {
  GcOptions options;
  options.grace_seconds = 0;  // pack files go at once: a dangling reference cannot hide
  return options;
}

void RequireLoadsAndVerifies(Store& store, const std::string& ref, const StepState& state) {
  auto loaded = store.Load(ref);
  INFO(loaded.status().ToString());
  REQUIRE(loaded.ok());
  CHECK(state.Matches(*loaded));
  auto verify = store.Verify(ReadAllData());
  REQUIRE(verify.ok());
  for (const auto& p : verify->problems) FAIL_CHECK(p.status.ToString());
}

}  // namespace

TEST_CASE("a gc during a save's pack writes costs the save nothing", "[integration][gc][threads]") {
  TempDir dir;
  auto faulty = std::make_shared<FaultInjectingBackend>(NewLocalBackend(dir.path()));
  StoreOptions options;
  options.backend = faulty;
  auto store = MustOpen(dir.path(), options);
  auto cron = MustOpen(dir.path());  // the other actor, with its own Store
  const StepState first(0), second(1);
  REQUIRE(store->Save(first.Request("run", 0)).ok());

  SECTION("chunks the save found stored are reclaimed") {
    // run@0 is deleted before the save: its chunks are garbage, but still
    // indexed, so the save reuses them instead of writing them.
    REQUIRE(store->Delete("run@0").ok());
    Status gc_status;
    faulty->BeforeNextPut("packs/", [&] {
      auto report = cron->Gc(NoGrace());
      gc_status = report.status();
      if (report.ok()) CHECK(report->chunks_removed > 0);
    });
    auto info = store->Save(second.Request("run", 1));
    REQUIRE(info.ok());
    REQUIRE(gc_status.ok());
    CHECK(store->Counters().chunks_rewritten_after_gc > 0);
    // Everything was written by this save in the end: nothing is shared.
    CHECK(info->shared_bytes == 0);
    RequireLoadsAndVerifies(*store, "run@1", second);
  }

  SECTION("control: without the race the save stores a delta") {
    REQUIRE(store->Save(second.Request("run", 1)).ok());
    auto stats = store->Stats();
    REQUIRE(stats.ok());
    CHECK(stats->delta_chunks > 0);
    CHECK(store->Counters().chunks_rewritten_after_gc == 0);
  }

  SECTION("the bases of the save's deltas are reclaimed") {
    // The save deltas the changed embedding row against run@0; then run@0
    // goes and gc reclaims it, bases included, before the save commits.
    Status gc_status;
    faulty->BeforeNextPut("packs/", [&] {
      REQUIRE(cron->Delete("run@0").ok());
      auto report = cron->Gc(NoGrace());
      gc_status = report.status();
      if (report.ok()) CHECK(report->packs_deleted > 0);
    });
    REQUIRE(store->Save(second.Request("run", 1)).ok());
    REQUIRE(gc_status.ok());
    CHECK(store->Counters().chunks_rewritten_after_gc > 0);
    auto stats = store->Stats();
    REQUIRE(stats.ok());
    CHECK(stats->delta_chunks == 0);  // every delta lost its base: stored whole
    RequireLoadsAndVerifies(*store, "run@1", second);
  }
}

// A gc in the saving process (auto gc, or a trainer calling Gc between
// saves on another thread) with no grace period: the packs its own saves
// have written and not yet committed are not orphans, whatever their age.
TEST_CASE("gc in the saving process leaves the packs of its saves in flight alone",
          "[integration][gc][threads]") {
  TempDir dir;
  auto faulty = std::make_shared<FaultInjectingBackend>(NewLocalBackend(dir.path()));
  StoreOptions options;
  options.backend = faulty;
  options.pack_target_size = 256 << 10;  // the save below writes several packs
  auto store = MustOpen(dir.path(), options);
  const StepState first(0), second(1, 99);  // nothing in common
  REQUIRE(store->Save(first.Request("run", 0)).ok());
  Status gc_status;
  uint64_t orphans_deleted = 0;
  auto gc = [&] {
    auto report = store->Gc(NoGrace());
    gc_status = report.status();
    if (report.ok()) orphans_deleted = report->orphan_packs_deleted;
  };
  // Before the third pack's Put: at most two are stored at once, so the
  // first is whole on disk by then, and named by no key.
  faulty->BeforeNextPut("packs/", [&] {
    faulty->BeforeNextPut("packs/", [&] { faulty->BeforeNextPut("packs/", gc); });
  });
  auto info = store->Save(second.Request("run", 1));
  INFO(info.status().ToString());
  REQUIRE(info.ok());
  REQUIRE(gc_status.ok());
  CHECK(orphans_deleted == 0);
  RequireLoadsAndVerifies(*store, "run@1", second);
  RequireLoadsAndVerifies(*store, "run@0", first);
}
