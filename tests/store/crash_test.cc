// Real crashes: a worker process saves checkpoints in a loop and is killed
// with SIGKILL at a random moment. Every checkpoint it reported committed
// must load bit-exact afterwards, and the store must verify.
#include <poll.h>
#include <signal.h>
#include <unistd.h>

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

// Waits until the worker has printed one whole line (its first commit) or
// `timeout` has passed; returns what it printed so far.
std::string WaitForFirstCommit(int fd, std::chrono::seconds timeout) {
  std::string out;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (out.find('\n') == std::string::npos) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) break;
    pollfd p{fd, POLLIN, 0};
    const int ready = poll(&p, 1, static_cast<int>(left.count()));
    if (ready < 0 && errno == EINTR) continue;
    if (ready <= 0) break;
    char buf[256];
    const ssize_t n = read(fd, buf, sizeof(buf));
    if (n <= 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  return out;
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
    Worker w = SpawnWorker(
        {"save-loop", dir.path(), "crash", std::to_string(next_step), std::to_string(256 * 1024)});
    auto delay = std::chrono::microseconds(20000 + rng() % 200000);
    // Odd rounds count the delay from the worker's first commit, so that
    // every build, however slow, kills among commits too; even rounds from
    // its start, so that opening and the first save get killed as well.
    std::string early;
    if (round % 2 == 1) early = WaitForFirstCommit(w.out_fd, std::chrono::seconds(60));
    std::this_thread::sleep_for(delay);
    kill(w.pid, SIGKILL);
    int code = WaitForExit(w.pid);
    auto steps = ParseSteps(early + ReadToEnd(w.out_fd));
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
  // The kills must have fallen among commits, not only before the first:
  // every odd round kills after its first commit. (How many more commits
  // fit in the delays depends on the machine, so that is not asserted.)
  CHECK(committed.size() >= kRounds / 2);
}
