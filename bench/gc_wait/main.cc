// ckpt_bench_gc_wait: how long a garbage collection running beside a trainer
// holds the trainer's saves up. gc takes the store lock only for short
// sessions and yields to a waiting save (index/store_lock.h), so no save
// should wait for gc longer than a save takes.
//
//   ckpt_bench_gc_wait [--dir DIR] [--saves 120]
//
// On a fresh store in a temporary directory under DIR (default $TMPDIR or
// /tmp), one thread saves `saves` checkpoints of a trainer with a frozen
// backbone (16 MiB that never change beside 1.3 MiB that do, in three
// tensors) while a second thread, with its own Store as a cron job would
// have, runs gc (keep the last 3 and every 50th step) in a loop until the
// saves end. Prints the saves' median and longest time, the longest and the
// total time a save waited for a gc session, and whether that longest wait
// stayed under the median save. Exits 1 if a save or a gc fails.
#include <ckpt/ckpt.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <random>
#include <string>
#include <thread>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

[[noreturn]] void Die(const std::string& what) {
  std::fprintf(stderr, "ckpt_bench_gc_wait: %s\n", what.c_str());
  std::exit(1);
}

std::vector<uint8_t> Random(size_t n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<uint8_t> out(n);
  for (auto& b : out) b = static_cast<uint8_t>(rng());
  return out;
}

std::unique_ptr<ckpt::Store> Open(const std::string& path) {
  ckpt::StoreOptions options;
  options.create_if_missing = true;
  auto store = ckpt::Store::Open(options, path);
  if (!store.ok()) Die("open " + path + ": " + store.status().ToString());
  return std::move(*store);
}

}  // namespace

int main(int argc, char** argv) {
  const char* tmp = std::getenv("TMPDIR");
  std::string dir = tmp ? tmp : "/tmp";
  int saves = 120;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--dir" && i + 1 < argc)
      dir = argv[++i];
    else if (a == "--saves" && i + 1 < argc)
      saves = std::atoi(argv[++i]);
    else
      Die("usage: ckpt_bench_gc_wait [--dir DIR] [--saves N]");
  }
  if (saves < 1) Die("--saves must be at least 1");
  std::string tmpl = dir + "/ckpt-bench-gc-wait-XXXXXX";
  if (mkdtemp(tmpl.data()) == nullptr) Die("mkdtemp under " + dir + ": " + std::strerror(errno));
  const std::string path = tmpl + "/store";

  auto trainer = Open(path);
  ckpt::RetentionPolicy policy;
  policy.keep_last = 3;
  policy.keep_every_steps = 50;
  if (!trainer->SetPolicy("train", policy).ok()) Die("set policy");

  const std::vector<uint8_t> frozen = Random(16 << 20, 99);
  std::vector<uint8_t> moving = Random(1300 << 10, 1);
  std::vector<uint8_t> head = Random(64 << 10, 2);

  std::atomic<bool> saving{true};
  std::atomic<int> gc_runs{0}, gc_failures{0};
  std::thread cron([&] {
    auto store = Open(path);
    ckpt::GcOptions options;
    options.grace_seconds = 2;
    while (saving) {
      if (!store->Gc(options).ok()) gc_failures++;
      gc_runs++;
    }
  });

  std::vector<double> ms;
  int failures = 0;
  std::mt19937_64 rng(7);
  for (int step = 0; step < saves; ++step) {
    // A trainer's step: a few values of the moving state change.
    for (int k = 0; k < 64; ++k) moving[rng() % moving.size()] ^= 0xFF;
    for (int k = 0; k < 16; ++k) head[rng() % head.size()] ^= 0xFF;
    ckpt::SaveRequest r;
    r.run = "train";
    r.step = static_cast<uint64_t>(step);
    r.tensors.push_back({"backbone", ckpt::DType::kBF16, {8 << 20}, frozen.data(), frozen.size()});
    r.tensors.push_back(
        {"moving", ckpt::DType::kF32, {int64_t(moving.size() / 4)}, moving.data(), moving.size()});
    r.tensors.push_back(
        {"head", ckpt::DType::kF32, {int64_t(head.size() / 4)}, head.data(), head.size()});
    auto t0 = Clock::now();
    if (!trainer->Save(r).ok()) failures++;
    ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
  }
  saving = false;
  cron.join();

  std::sort(ms.begin(), ms.end());
  const ckpt::StoreCounters c = trainer->Counters();
  const double median = ms[ms.size() / 2], wait_max = c.lock_wait_max_us / 1000.0;
  std::printf("ckpt_bench_gc_wait: %d saves beside %d gc runs, %ld cores online\n", saves,
              gc_runs.load(), sysconf(_SC_NPROCESSORS_ONLN));
  std::printf("save: median %.1f ms, longest %.1f ms\n", median, ms.back());
  std::printf("waits for gc: longest %.1f ms, total %.1f ms, chunks rewritten after gc %llu\n",
              wait_max, c.lock_wait_total_us / 1000.0,
              static_cast<unsigned long long>(c.chunks_rewritten_after_gc));
  std::printf("longest wait under the median save: %s\n", wait_max < median ? "yes" : "NO");
  trainer.reset();
  std::error_code ec;
  std::filesystem::remove_all(tmpl, ec);
  if (failures || gc_failures) {
    std::fprintf(stderr, "ckpt_bench_gc_wait: %d saves and %d gc runs failed\n", failures,
                 gc_failures.load());
    return 1;
  }
  return 0;
}
