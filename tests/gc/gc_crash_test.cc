// SIGKILL garbage collection at random moments: the store must open and
// verify after each kill, keep every checkpoint the policy keeps, and the
// next gc must complete the work.
#include <signal.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <random>
#include <thread>

#include "store/store_fixture.h"

using namespace ckpt;
using namespace ckpt::test;

TEST_CASE("SIGKILL during gc loses nothing kept and the next gc finishes", "[gc][crash][slow]") {
  std::mt19937_64 rng(4242);
  const int kRounds = 50;
  TempDir dir;
  uint64_t next_step = 0;
  {
    auto store = MustOpen(dir.path());
    RetentionPolicy policy;
    policy.keep_last = 2;
    policy.keep_every_steps = 5;
    REQUIRE(store->SetPolicy("run", policy).ok());
  }
  for (int round = 0; round < kRounds; ++round) {
    {
      // New checkpoints each round so that every gc has work to do; packs
      // of one checkpoint each so that repacking happens too.
      StoreOptions options;
      options.pack_target_size = 512 * 1024;
      auto store = MustOpen(dir.path(), options);
      for (int i = 0; i < 3; ++i, ++next_step)
        REQUIRE(
            store->Save(StepState(next_step, 7 + next_step % 3).Request("run", next_step)).ok());
    }
    Worker gc = SpawnWorker({"gc-loop", dir.path(), "0"});
    auto delay = std::chrono::microseconds(1000 + rng() % 60000);
    std::this_thread::sleep_for(delay);
    kill(gc.pid, SIGKILL);
    int code = WaitForExit(gc.pid);
    ReadToEnd(gc.out_fd);
    INFO("round " << round << ", gc killed after " << delay.count() << " us");
    REQUIRE(code == 128 + SIGKILL);

    auto store = MustOpen(dir.path());
    auto report = store->Verify(ReadAllData());
    REQUIRE(report.ok());
    for (const auto& p : report->problems) FAIL_CHECK(p.status.ToString());
    // The latest two and every fifth step are always kept.
    for (uint64_t step = 0; step < next_step; ++step) {
      if (step % 5 != 0 && step + 2 < next_step) continue;
      auto loaded = store->Load("run@" + std::to_string(step));
      REQUIRE(loaded.ok());
      CHECK(StepState(step, 7 + step % 3).Matches(*loaded));
    }
  }
  // A full gc afterwards completes whatever the killed ones left.
  auto store = MustOpen(dir.path());
  GcOptions options;
  options.grace_seconds = 0;
  auto report = store->Gc(options);
  REQUIRE(report.ok());
  auto again = store->Gc(options);
  REQUIRE(again.ok());
  CHECK(again->checkpoints_removed == 0);
  CHECK(again->chunks_removed == 0);
  CHECK(again->packs_deleted == 0);
  auto verify = store->Verify(ReadAllData());
  REQUIRE(verify.ok());
  CHECK(verify->ok());
}
