// gc beside a live trainer, across processes, for real: one worker process
// saves every ~100 ms (a 16 MiB frozen backbone and 1.3 MiB of moving
// state, sharing most chunks with earlier saves) while another
// runs gc in a loop, for a minute. No save may fail, every checkpoint the
// policy keeps must load bit-exact, verify must pass, and no save may be
// held up by gc for longer than one save takes.
#include <catch2/catch.hpp>
#include <cstdio>

#include "store/store_fixture.h"

using namespace ckpt;
using namespace ckpt::test;

TEST_CASE("a trainer saving and a cron gc run side by side for a minute",
          "[gc][concurrency][slow]") {
  TempDir dir;
  {
    auto store = MustOpen(dir.path());
    RetentionPolicy policy;
    policy.keep_last = 3;
    policy.keep_every_steps = 50;
    REQUIRE(store->SetPolicy("train", policy).ok());
  }
  const std::string seconds = "60";
  Worker saver = SpawnWorker({"save-timed", dir.path(), "train", seconds});
  Worker collector = SpawnWorker({"gc-timed", dir.path(), seconds, "2"});
  std::string saver_out = ReadToEnd(saver.out_fd);
  std::string gc_out = ReadToEnd(collector.out_fd);
  REQUIRE(WaitForExit(saver.pid) == 0);
  REQUIRE(WaitForExit(collector.pid) == 0);

  unsigned long long saves = 0, save_failures = 0, gc_runs = 0, gc_failures = 0;
  double median_ms = 0, max_ms = 0, wait_ms = 0;
  unsigned long long rewritten = 0;
  REQUIRE(std::sscanf(saver_out.c_str(),
                      "saves %llu failures %llu median_ms %lf max_ms %lf lock_wait_max_ms %lf "
                      "rewritten %llu",
                      &saves, &save_failures, &median_ms, &max_ms, &wait_ms, &rewritten) == 6);
  REQUIRE(std::sscanf(gc_out.c_str(), "runs %llu failures %llu", &gc_runs, &gc_failures) == 2);
  WARN("saves: " << saves << ", median " << median_ms << " ms, longest " << max_ms
                 << " ms, longest wait for gc " << wait_ms << " ms, chunks rewritten after gc "
                 << rewritten << "; gc runs: " << gc_runs);
  CHECK(save_failures == 0);
  CHECK(gc_failures == 0);
  CHECK(saves > 100);
  CHECK(gc_runs > 5);
  // The saver is never held up by gc for longer than one save takes.
  // (Not under sanitizers: they slow the two processes unevenly.)
#ifndef CKPT_SANITIZED_BUILD
  CHECK(wait_ms < median_ms);
#endif

  auto store = MustOpen(dir.path());
  auto list = store->ListCheckpoints("train");
  REQUIRE(list.ok());
  CHECK(list->size() < saves);  // gc did remove checkpoints
  for (const auto& c : *list) {
    auto loaded = store->Load("train@" + std::to_string(c.step));
    REQUIRE(loaded.ok());
    CHECK(loaded->tensors.at(2).data == RandomBytes(16 << 20, 99));
    loaded->tensors.pop_back();
    CHECK(StepState(c.step).Matches(*loaded));
  }
  CHECK(store->Resolve("train@" + std::to_string(saves - 1)).ok());
  auto verify = store->Verify(ReadAllData());
  REQUIRE(verify.ok());
  for (const auto& p : verify->problems) FAIL_CHECK(p.status.ToString());
}
