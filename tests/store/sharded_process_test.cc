// Sharded checkpoints written by real processes: ranks saving concurrently
// into one store, and ranks killed with SIGKILL at random moments. A
// checkpoint is visible only whole, and then loads bit-exact for any world
// size.
#include <signal.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <map>
#include <random>
#include <thread>

#include "store/shard_fixture.h"
#include "store/store_fixture.h"

using namespace ckpt;
using namespace ckpt::test;

namespace {

Worker SpawnRank(const std::string& dir, uint64_t first, uint64_t last, int rank, int world,
                 int64_t scale) {
  return SpawnWorker({"save-shard", dir, "run", std::to_string(first), std::to_string(last),
                      std::to_string(rank), std::to_string(world), std::to_string(scale)});
}

// Checks every global tensor of `state`, read by each rank of a job of
// `world` ranks as its row shard and its column shard, and the whole load.
void CheckReadBack(Store& store, const ShardedState& state, const std::string& ref) {
  auto loaded = store.Load(ref);
  REQUIRE(loaded.ok());
  for (const auto& [name, t] : state.tensors) {
    bool found = false;
    for (const auto& lt : loaded->tensors)
      if (lt.name == name) {
        found = true;
        CHECK(lt.data == t.bytes);
      }
    CHECK(found);
    for (int world : {1, 3, 8}) {
      for (size_t dim : {size_t{0}, size_t{1}}) {
        for (const TestBox& box : SplitAlong(t.shape, dim, world)) {
          std::vector<uint8_t> got(t.Slice(box).size());
          Status s = store.LoadBox(ref, name, box.offsets, box.shape, got.data(), got.size());
          INFO(ref << " " << name << " world " << world << " dim " << dim);
          REQUIRE(s.ok());
          CHECK(got == t.Slice(box));
        }
      }
    }
  }
}

}  // namespace

TEST_CASE("4 and 8 rank processes save sharded checkpoints concurrently", "[shard][slow]") {
  for (int world : {4, 8}) {
    TempDir dir;
    std::vector<Worker> ranks;
    for (int r = 0; r < world; ++r) ranks.push_back(SpawnRank(dir.path(), 1, 3, r, world, 40));
    int committed = 0;
    for (Worker& w : ranks) {
      std::string out = ReadToEnd(w.out_fd);
      INFO(out);
      REQUIRE(WaitForExit(w.pid) == 0);
      for (size_t at = out.find("committed"); at != std::string::npos;
           at = out.find("committed", at + 1))
        committed++;
    }
    CHECK(committed == 3);  // exactly one rank completes each step
    auto store = MustOpen(dir.path());
    for (uint64_t step = 1; step <= 3; ++step) {
      INFO("world " << world << " step " << step);
      CheckReadBack(*store, ShardedState(world, step, 40), "run@" + std::to_string(step));
    }
    auto report = store->Verify({true, nullptr});
    REQUIRE(report.ok());
    CHECK(report->ok());
  }
}

TEST_CASE("two world sizes racing for one step: one checkpoint, of one of them", "[shard][slow]") {
  for (int round = 0; round < 5; ++round) {
    TempDir dir;
    std::vector<std::pair<int, Worker>> ranks;  // world size, worker
    for (int r = 0; r < 3; ++r) {
      ranks.push_back({3, SpawnRank(dir.path(), 1, 1, r, 3, 20)});
      if (r < 2) ranks.push_back({2, SpawnRank(dir.path(), 1, 1, r, 2, 20)});
    }
    std::map<int, int> committed, recorded;  // by world size
    for (auto& [world, w] : ranks) {
      std::string out = ReadToEnd(w.out_fd);
      INFO("round " << round << " world " << world << ": " << out);
      REQUIRE(WaitForExit(w.pid) == 0);
      committed[world] += out.find("committed") != std::string::npos;
      recorded[world] += out.find("recorded") != std::string::npos;
    }
    // The world size of the first shard recorded wins: its ranks all get in
    // and one of them commits; every rank of the other is refused (while
    // the winner's shards are pending) or finds the checkpoint complete.
    auto store = MustOpen(dir.path());
    auto info = store->Resolve("run@1");
    REQUIRE(info.ok());
    const int world = static_cast<int>(info->world_size), other = world == 2 ? 3 : 2;
    CHECK(committed[world] == 1);
    CHECK(recorded[world] == world - 1);
    CHECK(committed[other] + recorded[other] == 0);
    CheckReadBack(*store, ShardedState(world, 1, 20), "run@1");
    auto report = store->Verify({true, nullptr});
    REQUIRE(report.ok());
    CHECK(report->ok());
  }
}

TEST_CASE("SIGKILL of a rank leaves a sharded checkpoint whole or invisible", "[shard][slow]") {
  TempDir dir;
  std::mt19937_64 rng(20261206);
  const int kRounds = 30, kWorld = 4;
  int visible_before_restart = 0;
  for (int round = 0; round < kRounds; ++round) {
    const uint64_t step = static_cast<uint64_t>(round);
    const int victim = static_cast<int>(rng() % kWorld);
    std::vector<Worker> ranks;
    for (int r = 0; r < kWorld; ++r)
      ranks.push_back(SpawnRank(dir.path(), step, step, r, kWorld, 300));
    std::this_thread::sleep_for(std::chrono::microseconds(rng() % 120000));
    kill(ranks[victim].pid, SIGKILL);
    for (int r = 0; r < kWorld; ++r) {
      std::string out = ReadToEnd(ranks[r].out_fd);
      const int code = WaitForExit(ranks[r].pid);
      INFO("round " << round << " rank " << r << ": " << out);
      if (r != victim) REQUIRE(code == 0);
    }
    const std::string ref = "run@" + std::to_string(step);
    const ShardedState state(kWorld, step, 300);
    {
      auto store = MustOpen(dir.path());
      auto report = store->Verify({true, nullptr});
      REQUIRE(report.ok());
      for (const auto& p : report->problems) FAIL_CHECK(p.status.ToString());
      // Visible only if the victim's shard committed before it died.
      auto info = store->Resolve(ref);
      if (info.ok()) {
        visible_before_restart++;
        CheckReadBack(*store, state, ref);
      } else {
        REQUIRE(info.status().code() == Code::kNotFound);
      }
    }
    // The restarted rank completes it (or finds it complete).
    Worker again = SpawnRank(dir.path(), step, step, victim, kWorld, 300);
    std::string out = ReadToEnd(again.out_fd);
    INFO("round " << round << " restarted rank " << victim << ": " << out);
    REQUIRE(WaitForExit(again.pid) == 0);
    auto store = MustOpen(dir.path());
    auto loaded = store->Load(ref);
    REQUIRE(loaded.ok());
    for (const auto& t : loaded->tensors)
      if (state.tensors.count(t.name)) CHECK(t.data == state.tensors.at(t.name).bytes);
  }
  // Every checkpoint of every round is still whole at the end.
  auto store = MustOpen(dir.path());
  for (int round = 0; round < kRounds; ++round)
    CheckReadBack(*store, ShardedState(kWorld, round, 300), "run@" + std::to_string(round));
  auto report = store->Verify({true, nullptr});
  REQUIRE(report.ok());
  CHECK(report->ok());
  // The kills must have fallen both before and after the victim's commit in
  // some rounds; how often depends on the machine, so it is only reported.
  WARN("checkpoints visible before the restart: " << visible_before_restart << " of " << kRounds);
}
