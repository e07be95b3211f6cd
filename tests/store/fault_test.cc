// Injected I/O faults: a failing save returns a clear error, leaves every
// committed checkpoint intact and the store verifiable, and a retry
// succeeds once the fault is gone.
#include <catch2/catch.hpp>

#include "doubles/fault_injecting_backend.h"
#include "store/store_fixture.h"

using namespace ckpt;
using namespace ckpt::test;
using ckpt::internal::FaultInjectingBackend;
using ckpt::internal::FaultKind;

namespace {

void RequireIntact(Store& store, const std::vector<uint64_t>& steps, uint64_t last_base = 7) {
  auto report = store.Verify(ReadAllData());
  REQUIRE(report.ok());
  for (const auto& p : report->problems) FAIL_CHECK(p.status.ToString());
  for (uint64_t step : steps) {
    auto loaded = store.Load("run@" + std::to_string(step));
    REQUIRE(loaded.ok());
    CHECK(StepState(step, step == 2 ? last_base : 7).Matches(*loaded));
  }
}

}  // namespace

TEST_CASE("a save that hits a backend fault fails cleanly and can be retried", "[fault]") {
  auto kind = GENERATE(FaultKind::kIOError, FaultKind::kNoSpace, FaultKind::kTornWrite,
                       FaultKind::kFsyncFail);
  auto nth = GENERATE(1, 2, 3, 5);
  TempDir dir;
  auto faulty = std::make_shared<FaultInjectingBackend>(NewLocalBackend(dir.path()));
  StoreOptions options;
  options.backend = faulty;
  options.pack_target_size = 128 * 1024;  // many packs per save
  auto store = MustOpen(dir.path(), options);
  std::vector<uint64_t> committed;
  for (uint64_t step = 0; step < 2; ++step) {
    REQUIRE(store->Save(StepState(step).Request("run", step)).ok());
    committed.push_back(step);
  }
  faulty->FailPutAt(nth, kind);
  StepState next(2, 99);  // all new bytes: ~10 packs, so the n-th Put is inside the save
  auto failed = store->Save(next.Request("run", 2));
  INFO("fault log: " << (faulty->Log().empty() ? "none" : faulty->Log()[0]));
  REQUIRE_FALSE(failed.ok());
  CHECK(failed.status().message().find("run@2") != std::string::npos);
  CHECK(failed.status().message().find("injected") != std::string::npos);
  if (kind == FaultKind::kNoSpace)
    CHECK(failed.status().code() == Code::kNoSpace);
  else
    CHECK(failed.status().code() == Code::kIOError);
  CHECK(store->Resolve("run@2").status().code() == Code::kNotFound);
  RequireIntact(*store, committed);

  faulty->Clear();
  REQUIRE(store->Save(next.Request("run", 2)).ok());
  committed.push_back(2);
  RequireIntact(*store, committed, 99);

  // The same holds after reopening: nothing half-written became visible.
  store.reset();
  auto reopened = MustOpen(dir.path(), options);
  RequireIntact(*reopened, committed, 99);
}

TEST_CASE("a read fault is reported as an I/O error, not as corruption", "[fault]") {
  TempDir dir;
  auto faulty = std::make_shared<FaultInjectingBackend>(NewLocalBackend(dir.path()));
  StoreOptions options;
  options.backend = faulty;
  auto store = MustOpen(dir.path(), options);
  REQUIRE(store->Save(StepState(0).Request("run", 0)).ok());
  faulty->FailGetAt(1);
  auto loaded = store->Load("run@0");
  REQUIRE_FALSE(loaded.ok());
  CHECK(loaded.status().code() == Code::kIOError);
  CHECK(loaded.status().message().find("run@0") != std::string::npos);
  REQUIRE(store->Load("run@0").ok());
}

TEST_CASE("random faults over many saves never corrupt committed state", "[fault][slow]") {
  auto seed = GENERATE(1u, 2u, 3u);
  TempDir dir;
  auto faulty = std::make_shared<FaultInjectingBackend>(NewLocalBackend(dir.path()));
  StoreOptions options;
  options.backend = faulty;
  options.pack_target_size = 128 * 1024;
  auto store = MustOpen(dir.path(), options);
  faulty->FailPutsRandomly(seed, 4, seed % 2 ? FaultKind::kTornWrite : FaultKind::kNoSpace);
  std::vector<uint64_t> committed;
  for (uint64_t step = 0; step < 20; ++step)
    if (store->Save(StepState(step).Request("run", step)).ok()) committed.push_back(step);
  faulty->Clear();
  INFO("seed " << seed << ", faults: " << faulty->Log().size());
  CHECK(faulty->Log().size() > 0);
  RequireIntact(*store, committed);
}
