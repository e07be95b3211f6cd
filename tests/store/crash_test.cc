// Real crashes: a child process saves checkpoints in a loop and is killed
// with SIGKILL at a random moment. Every checkpoint it reported committed
// must load bit-exact afterwards, and the store must verify.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <random>
#include <set>
#include <thread>

#include "store/store_fixture.h"

using namespace ckpt;
using namespace ckpt::test;

namespace {

// Child: save steps from `first` on, writing each committed step to `fd`.
[[noreturn]] void SaveForever(const std::string& dir, uint64_t first, int fd) {
  try {
    StoreOptions options;
    options.pack_target_size = 256 * 1024;  // several packs per save: more crash points
    auto store = MustOpen(dir, options);
    for (uint64_t step = first;; ++step) {
      StepState state(step);
      if (!store->Save(state.Request("crash", step)).ok()) _exit(3);
      if (write(fd, &step, sizeof(step)) != sizeof(step)) _exit(4);
    }
  } catch (...) {
    _exit(5);
  }
}

std::set<uint64_t> ReadCommitted(int fd) {
  std::set<uint64_t> steps;
  uint64_t step;
  while (read(fd, &step, sizeof(step)) == sizeof(step)) steps.insert(step);
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
    int fds[2];
    REQUIRE(pipe(fds) == 0);
    pid_t pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
      close(fds[0]);
      SaveForever(dir.path(), next_step, fds[1]);
    }
    close(fds[1]);
    auto delay = std::chrono::microseconds(2000 + rng() % 150000);
    std::this_thread::sleep_for(delay);
    kill(pid, SIGKILL);
    int status = 0;
    waitpid(pid, &status, 0);
    INFO("round " << round << ", killed after " << delay.count() << " us");
    REQUIRE(WIFSIGNALED(status));  // it must not have failed on its own
    auto steps = ReadCommitted(fds[0]);
    close(fds[0]);
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
  CHECK(committed.size() >= 10);
}
