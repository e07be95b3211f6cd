// Real crashes: a worker process saves checkpoints in a loop and is killed
// with SIGKILL at a random moment. Every checkpoint it reported committed
// must load bit-exact afterwards, and the store must verify.
#include <signal.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <random>
#include <set>
#include <sstream>
#include <thread>

#include "store/store_fixture.h"

using namespace ckpt;
using namespace ckpt::test;

namespace {

std::set<uint64_t> ParseSteps(const std::string& text) {
  std::set<uint64_t> steps;
  std::istringstream in(text);
  for (uint64_t step; in >> step;) steps.insert(step);
  return steps;
}

}  // namespace

TEST_CASE("SIGKILL during saves loses no committed checkpoint", "[crash][slow]") {
  TempDir dir;
  std::mt19937_64 rng(20261123);
  std::set<uint64_t> committed;
  uint64_t next_step = 0;
  const int kRounds = 50;
  for (int round = 0; round < kRounds; ++round) {
    // Small packs: several per save, so more moments to crash in.
    Worker w = SpawnWorker({"save-loop", dir.path(), "crash", std::to_string(next_step),
                            std::to_string(256 * 1024)});
    auto delay = std::chrono::microseconds(20000 + rng() % 200000);
    std::this_thread::sleep_for(delay);
    kill(w.pid, SIGKILL);
    int code = WaitForExit(w.pid);
    auto steps = ParseSteps(ReadToEnd(w.out_fd));
    INFO("round " << round << ", killed after " << delay.count() << " us");
    REQUIRE(code == 128 + SIGKILL);  // it must not have failed on its own
    committed.insert(steps.begin(), steps.end());
    if (!steps.empty()) next_step = *steps.rbegin() + 1;
    // A save that was killed may have committed without reporting it; skip
    // past it so the next round never collides with a half-known step.
    next_step += 1;

    auto store = MustOpen(dir.path());
    auto report = store->Verify(ReadAllData());
    REQUIRE(report.ok());
    for (const auto& p : report->problems) FAIL_CHECK(p.status.ToString());
    for (uint64_t step : steps) {
      auto loaded = store->Load("crash@" + std::to_string(step));
      REQUIRE(loaded.ok());
      CHECK(StepState(step).Matches(*loaded));
    }
  }
  // Every checkpoint ever reported committed is still there at the end.
  auto store = MustOpen(dir.path());
  for (uint64_t step : committed) {
    auto loaded = store->Load("crash@" + std::to_string(step));
    REQUIRE(loaded.ok());
    CHECK(StepState(step).Matches(*loaded));
  }
  // The kills must have fallen among many commits, not before the first.
  // Sanitized builds save several times slower, so fewer commits fit in
  // the same kill delays.
#ifdef CKPT_SANITIZED_BUILD
  CHECK(committed.size() >= 25);
#else
  CHECK(committed.size() >= 50);
#endif
}
