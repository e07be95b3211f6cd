// gc beside a live trainer, across processes, for real: one worker process
// runs gc in a loop while another saves a fixed number of checkpoints (a
// 16 MiB frozen backbone and 1.3 MiB of moving state, sharing most chunks
// with earlier saves). The saves start after gc's first run and gc stops
// only after the last save, so every save overlaps gc. No save and no gc
// may fail, every checkpoint the policy keeps must load bit-exact, and
// verify must pass. How long gc holds saves up is measured by a benchmark,
// not here: a unit test asserts no timing.
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdio>
#include <sstream>

#include "store/store_fixture.h"

using namespace ckpt;
using namespace ckpt::test;

namespace {

// Reads the worker's stdout up to and including its first line.
std::string ReadLine(int fd) {
  std::string line;
  char c;
  while (read(fd, &c, 1) == 1) {
    line += c;
    if (c == '\n') break;
  }
  return line;
}

std::string LastLine(const std::string& text) {
  std::istringstream in(text);
  std::string line, last;
  while (std::getline(in, line))
    if (!line.empty()) last = line;
  return last;
}

}  // namespace

TEST_CASE("a trainer saving and a cron gc run side by side", "[gc][concurrency][threads][slow]") {
  TempDir dir, control;
  {
    auto store = MustOpen(dir.path());
    RetentionPolicy policy;
    policy.keep_last = 3;
    policy.keep_every_steps = 50;
    REQUIRE(store->SetPolicy("train", policy).ok());
  }
  // Sanitized builds save several times slower; the count only sets how
  // long the two overlap.
#ifdef CKPT_SANITIZED_BUILD
  const unsigned long long kSaves = 60;
#else
  const unsigned long long kSaves = 120;
#endif
  const std::string stop_file = control.Sub("stop");
  Worker collector = SpawnWorker({"gc-until", dir.path(), stop_file, "2"});
  const std::string first_gc = ReadLine(collector.out_fd);  // gc is in its loop now
  Worker saver = SpawnWorker({"save-count", dir.path(), "train", std::to_string(kSaves)});
  std::string saver_out = ReadToEnd(saver.out_fd);
  const int saver_code = WaitForExit(saver.pid);
  WriteFileBytes(stop_file, "", 0);  // gc runs once more, after the last save, and ends
  std::string gc_out = first_gc + ReadToEnd(collector.out_fd);
  REQUIRE(WaitForExit(collector.pid) == 0);
  REQUIRE(saver_code == 0);
  REQUIRE(first_gc == "gc 1\n");

  unsigned long long saves = 0, save_failures = 0, rewritten = 0, gc_runs = 0, gc_failures = 0;
  REQUIRE(std::sscanf(saver_out.c_str(), "saves %llu failures %llu rewritten %llu", &saves,
                      &save_failures, &rewritten) == 3);
  REQUIRE(std::sscanf(LastLine(gc_out).c_str(), "runs %llu failures %llu", &gc_runs,
                      &gc_failures) == 2);
  CHECK(save_failures == 0);
  CHECK(gc_failures == 0);
  CHECK(saves == kSaves);
  CHECK(gc_runs >= 2);  // the one before the saves and the one after them

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
