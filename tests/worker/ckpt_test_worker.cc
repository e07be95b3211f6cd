// ckpt_test_worker: the other process of the cross-process tests. The tests
// fork and exec it (a fresh process image: forking a process that has run
// RocksDB would inherit its background threads' state but not the threads)
// and kill it with SIGKILL at random moments, or let it run for a while.
//
//   ckpt_test_worker save-loop DIR RUN FIRST_STEP PACK_TARGET
//       saves StepState(step) forever; prints each committed step on a line
//   ckpt_test_worker save-count DIR RUN COUNT
//       saves steps 0 .. COUNT-1 like a trainer with a frozen backbone;
//       prints "saves N failures F rewritten R"
//   ckpt_test_worker gc-loop DIR GRACE_SECONDS
//       runs gc forever; prints "gc N" after each run
//   ckpt_test_worker save-shard DIR RUN FIRST_STEP LAST_STEP RANK WORLD SCALE
//       saves rank RANK's shard of ShardedState(WORLD, step, SCALE) for each
//       step; prints "step S recorded" or "step S committed", "step S
//       exists" if the checkpoint was complete already, or "step S refused"
//       if its shard did not fit those recorded (another world size)
//   ckpt_test_worker gc-until DIR STOP_FILE GRACE_SECONDS
//       runs gc in a loop, printing "gc N" after each run; once STOP_FILE
//       exists, runs it once more and prints "runs N failures F"
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "store/shard_fixture.h"
#include "store/store_fixture.h"

using namespace ckpt;
using namespace ckpt::test;

namespace {

int SaveLoop(const std::string& dir, const std::string& run, uint64_t first, uint64_t pack_target) {
  StoreOptions options;
  options.pack_target_size = pack_target;
  auto store = MustOpen(dir, options);
  for (uint64_t step = first;; ++step) {
    StepState state(step);
    auto info = store->Save(state.Request(run, step));
    if (!info.ok()) {
      std::fprintf(stderr, "save failed: %s\n", info.status().ToString().c_str());
      return 3;
    }
    std::printf("%llu\n", static_cast<unsigned long long>(step));
    std::fflush(stdout);
  }
}

int SaveCount(const std::string& dir, const std::string& run, uint64_t count) {
  auto store = MustOpen(dir);
  // Like a trainer with a frozen backbone: 16 MiB that never change (stored
  // once, but read and hashed at every save) beside the moving state.
  const std::vector<uint8_t> frozen = RandomBytes(16 << 20, 99);
  uint64_t failures = 0;
  for (uint64_t step = 0; step < count; ++step) {
    StepState state(step);
    SaveRequest request = state.Request(run, step);
    request.tensors.push_back({"backbone", DType::kBF16, {8 << 20}, frozen.data(), frozen.size()});
    auto info = store->Save(request);
    if (!info.ok()) {
      failures++;
      std::fprintf(stderr, "save %llu failed: %s\n", static_cast<unsigned long long>(step),
                   info.status().ToString().c_str());
    }
  }
  StoreCounters counters = store->Counters();
  std::printf("saves %llu failures %llu rewritten %llu\n", static_cast<unsigned long long>(count),
              static_cast<unsigned long long>(failures),
              static_cast<unsigned long long>(counters.chunks_rewritten_after_gc));
  return 0;
}

int SaveShard(const std::string& dir, const std::string& run, uint64_t first, uint64_t last,
              int rank, int world, int64_t scale) {
  StoreOptions options;
  options.pack_target_size = 256 * 1024;  // several packs per shard: more moments to die in
  auto store = MustOpen(dir, options);
  for (uint64_t step = first; step <= last; ++step) {
    RankShard shard(ShardedState(world, step, scale), run, rank);
    auto info = store->Save(shard.request);
    const char* what = !info.ok() ? nullptr : info->shards_missing == 0 ? "committed" : "recorded";
    if (!info.ok() && info.status().code() == Code::kAlreadyExists) what = "exists";
    if (!info.ok() && info.status().code() == Code::kInvalidArgument) what = "refused";
    if (!what) {
      std::fprintf(stderr, "save failed: %s\n", info.status().ToString().c_str());
      return 3;
    }
    std::printf("step %llu %s\n", static_cast<unsigned long long>(step), what);
    std::fflush(stdout);
  }
  return 0;
}

// Runs gc until `stop_file` exists (forever if it is empty), then once more:
// that last run starts after whatever the test did before creating it.
int GcLoop(const std::string& dir, int64_t grace, const std::string& stop_file) {
  auto store = MustOpen(dir);
  GcOptions options;
  options.grace_seconds = grace;
  uint64_t runs = 0, failures = 0;
  for (bool last = false; !last;) {
    last = !stop_file.empty() && std::filesystem::exists(stop_file);
    auto report = store->Gc(options);
    runs++;
    if (!report.ok()) {
      failures++;
      std::fprintf(stderr, "gc failed: %s\n", report.status().ToString().c_str());
    }
    std::printf("gc %llu\n", static_cast<unsigned long long>(runs));
    std::fflush(stdout);
  }
  std::printf("runs %llu failures %llu\n", static_cast<unsigned long long>(runs),
              static_cast<unsigned long long>(failures));
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> a(argv + 1, argv + argc);
  try {
    if (a.size() == 5 && a[0] == "save-loop")
      return SaveLoop(a[1], a[2], std::stoull(a[3]), std::stoull(a[4]));
    if (a.size() == 4 && a[0] == "save-count") return SaveCount(a[1], a[2], std::stoull(a[3]));
    if (a.size() == 8 && a[0] == "save-shard")
      return SaveShard(a[1], a[2], std::stoull(a[3]), std::stoull(a[4]), std::stoi(a[5]),
                       std::stoi(a[6]), std::stoll(a[7]));
    if (a.size() == 3 && a[0] == "gc-loop") return GcLoop(a[1], std::stoll(a[2]), "");
    if (a.size() == 4 && a[0] == "gc-until") return GcLoop(a[1], std::stoll(a[3]), a[2]);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "worker: %s\n", e.what());
    return 5;
  }
  std::fprintf(stderr, "usage: see the comment at the top of ckpt_test_worker.cc\n");
  return 2;
}
