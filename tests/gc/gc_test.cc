// Garbage collection end to end on a real store: what policies and tags
// keep survives bit-exact, the rest is reclaimed, and the store verifies.
#include <fcntl.h>
#include <sys/stat.h>

#include <boost/filesystem.hpp>
#include <catch2/catch.hpp>
#include <cstdio>
#include <ctime>
#include <vector>

#include "store/store_fixture.h"

using namespace ckpt;
using namespace ckpt::test;

namespace {

std::vector<uint64_t> Steps(Store& store, const std::string& run) {
  std::vector<uint64_t> steps;
  auto list = store.ListCheckpoints(run);
  if (list.ok())
    for (const auto& c : *list) steps.push_back(c.step);
  return steps;
}

void RequireLoads(Store& store, const std::string& run, const std::vector<uint64_t>& steps,
                  uint64_t base) {
  for (uint64_t step : steps) {
    auto loaded = store.Load(run + "@" + std::to_string(step));
    INFO(loaded.status().ToString());
    REQUIRE(loaded.ok());
    CHECK(StepState(step, base).Matches(*loaded));
  }
}

GcOptions NoGrace() {
  GcOptions options;
  options.grace_seconds = 0;
  return options;
}

}  // namespace

TEST_CASE("gc keeps what the policy and tags keep and reclaims the rest", "[integration][gc]") {
  TempDir dir;
  auto store = MustOpen(dir.path());
  // Every checkpoint has its own base: nothing is shared, so space must drop.
  for (uint64_t step = 1; step <= 10; ++step)
    REQUIRE(store->Save(StepState(step, 100 + step).Request("run", step)).ok());
  REQUIRE(store->Tag("run@2", "keep-me").ok());
  RetentionPolicy policy;
  policy.keep_last = 3;
  KeepBest best;
  best.count = 1;
  best.metric = "loss";
  best.minimize = false;  // the highest loss: step 1 (loss 1/2)
  policy.keep_best.push_back(best);
  REQUIRE(store->SetPolicy("run", policy).ok());
  auto before = store->Stats();
  REQUIRE(before.ok());

  GcOptions dry = NoGrace();
  dry.dry_run = true;
  auto plan = store->Gc(dry);
  REQUIRE(plan.ok());
  CHECK(plan->decisions.size() == 10);
  CHECK(plan->bytes_unreferenced > 0);
  CHECK(Steps(*store, "run").size() == 10);  // a dry run changes nothing

  auto report = store->Gc(NoGrace());
  REQUIRE(report.ok());
  CHECK(report->checkpoints_removed == 5);
  CHECK(report->bytes_unreferenced == plan->bytes_unreferenced);
  CHECK(Steps(*store, "run") == std::vector<uint64_t>{1, 2, 8, 9, 10});
  for (uint64_t step : {1, 2, 8, 9, 10}) RequireLoads(*store, "run", {step}, 100 + step);
  auto after = store->Stats();
  REQUIRE(after.ok());
  CHECK(after->pack_bytes < before->pack_bytes * 6 / 10);
  auto verify = store->Verify(ReadAllData());
  REQUIRE(verify.ok());
  for (const auto& p : verify->problems) FAIL_CHECK(p.status.ToString());
}

TEST_CASE("gc repacks sparse packs and keeps shared chunks", "[integration][gc]") {
  TempDir dir;
  StoreOptions options;
  options.pack_target_size = 8 << 20;  // one pack per save
  auto store = MustOpen(dir.path(), options);
  for (uint64_t step = 0; step < 6; ++step)
    REQUIRE(store->Save(StepState(step).Request("run", step)).ok());
  RetentionPolicy policy;
  policy.keep_last = 1;
  REQUIRE(store->SetPolicy("", policy).ok());  // the store-wide default
  auto report = store->Gc(NoGrace());
  REQUIRE(report.ok());
  CHECK(report->checkpoints_removed == 5);
  CHECK(report->packs_repacked >= 1);
  CHECK(report->packs_deleted >= 1);
  RequireLoads(*store, "run", {5}, 7);
  auto verify = store->Verify(ReadAllData());
  REQUIRE(verify.ok());
  for (const auto& p : verify->problems) FAIL_CHECK(p.status.ToString());
  // The index still rebuilds from packs alone after repacking.
  store.reset();
  auto repaired = Store::Repair({}, dir.path());
  REQUIRE(repaired.ok());
  CHECK(repaired->checkpoints_restored == 1);
  store = MustOpen(dir.path(), options);
  RequireLoads(*store, "run", {5}, 7);
  CHECK(store->GetPolicy("").ok());
}

TEST_CASE("runs without a policy are left alone", "[integration][gc]") {
  TempDir dir;
  auto store = MustOpen(dir.path());
  for (uint64_t step = 0; step < 3; ++step)
    REQUIRE(store->Save(StepState(step).Request("run", step)).ok());
  auto report = store->Gc(NoGrace());
  REQUIRE(report.ok());
  CHECK(report->checkpoints_removed == 0);
  CHECK(report->runs_without_policy == std::vector<std::string>{"run"});
  CHECK(Steps(*store, "run").size() == 3);
}

TEST_CASE("a save that deduplicated against chunks gc reclaimed writes them again",
          "[integration][gc]") {
  TempDir dir;
  auto store = MustOpen(dir.path());
  REQUIRE(store->Save(StepState(0).Request("run", 0)).ok());
  REQUIRE(store->Save(StepState(1).Request("run", 1)).ok());
  // Remove everything, so that the chunks of step 0 become garbage.
  REQUIRE(store->Delete("run@0").ok());
  REQUIRE(store->Delete("run@1").ok());
  REQUIRE(store->Gc(NoGrace()).ok());
  REQUIRE(store->Save(StepState(2).Request("run", 2)).ok());
  RequireLoads(*store, "run", {2}, 7);
  auto verify = store->Verify(ReadAllData());
  REQUIRE(verify.ok());
  CHECK(verify->ok());
}

TEST_CASE("gc runs by itself every K saves without holding saves up",
          "[integration][gc][threads]") {
  TempDir dir;
  StoreOptions options;
  options.gc_every_saves = 4;
  options.auto_gc_grace_seconds = 0;
  auto store = MustOpen(dir.path(), options);
  RetentionPolicy policy;
  policy.keep_last = 2;
  REQUIRE(store->SetPolicy("run", policy).ok());
  for (uint64_t step = 0; step < 12; ++step)
    REQUIRE(store->Save(StepState(step, 100 + step).Request("run", step)).ok());
  store.reset();  // waits for a gc still running
  store = MustOpen(dir.path());
  auto steps = Steps(*store, "run");
  // Some background gc ran (how many depends on timing) and removed steps.
  CHECK(steps.size() < 12);
  CHECK(steps.back() == 11);
  for (uint64_t step : {10, 11}) RequireLoads(*store, "run", {step}, 100 + step);
}

TEST_CASE("gc removes partial files of interrupted writes once past the grace period",
          "[integration][gc]") {
  TempDir dir;
  auto store = MustOpen(dir.path());
  REQUIRE(store->Save(StepState(1).Request("run", 1)).ok());
  // What a Put killed between create and rename leaves: a temporary file
  // beside the objects, in a pack directory and in the root.
  std::string pack_dir;
  for (auto& entry : boost::filesystem::recursive_directory_iterator(dir.Sub("packs")))
    if (boost::filesystem::is_regular_file(entry.status()))
      pack_dir = entry.path().parent_path().string();
  REQUIRE(!pack_dir.empty());
  auto write = [](const std::string& path, size_t size, int64_t age_seconds) {
    FILE* f = std::fopen(path.c_str(), "wb");
    REQUIRE(f != nullptr);
    std::vector<char> bytes(size, 'x');
    REQUIRE(std::fwrite(bytes.data(), 1, size, f) == size);
    std::fclose(f);
    struct timespec times[2];
    clock_gettime(CLOCK_REALTIME, &times[0]);
    times[0].tv_sec -= age_seconds;
    times[1] = times[0];
    REQUIRE(utimensat(AT_FDCWD, path.c_str(), times, 0) == 0);
  };
  const std::string old_pack = pack_dir + "/.tmp-0123456789abcdef";
  const std::string old_ref = dir.Sub(".tmp-fedcba9876543210");
  const std::string young = pack_dir + "/.tmp-00112233aabbccdd";
  write(old_pack, 5000, 3600);
  write(old_ref, 70, 3600);
  write(young, 3000, 10);

  GcOptions options;
  options.grace_seconds = 600;
  auto report = store->Gc(options);
  REQUIRE(report.ok());
  CHECK(report->abandoned_writes_deleted == 2);
  CHECK(report->abandoned_bytes_deleted == 5070);
  CHECK_FALSE(boost::filesystem::exists(old_pack));
  CHECK_FALSE(boost::filesystem::exists(old_ref));
  CHECK(boost::filesystem::exists(young));  // perhaps still being written

  options.dry_run = true;  // a dry run deletes nothing
  write(old_pack, 100, 3600);
  REQUIRE(store->Gc(options).ok());
  CHECK(boost::filesystem::exists(old_pack));

  RequireLoads(*store, "run", {1}, 7);
  auto verify = store->Verify(ReadAllData());
  REQUIRE(verify.ok());
  CHECK(verify->problems.empty());
}

TEST_CASE("gc reports each step to the progress function", "[integration][gc]") {
  TempDir dir;
  auto store = MustOpen(dir.path());
  RetentionPolicy policy;
  policy.keep_last = 1;
  REQUIRE(store->SetPolicy("run", policy).ok());
  for (uint64_t step = 1; step <= 3; ++step)
    REQUIRE(store->Save(StepState(step).Request("run", step)).ok());
  for (bool dry_run : {true, false}) {
    std::vector<std::pair<uint64_t, uint64_t>> calls;
    GcOptions options = NoGrace();
    options.dry_run = dry_run;
    options.progress = [&](uint64_t done, uint64_t total) { calls.emplace_back(done, total); };
    auto report = store->Gc(options);
    REQUIRE(report.ok());
    const uint64_t steps = dry_run ? 2 : 8;
    REQUIRE(calls.size() == steps + 1);
    for (uint64_t k = 0; k <= steps; ++k) CHECK(calls[k] == std::make_pair(k, steps));
    CHECK(report->step_seconds.size() == steps);
  }
}
