// util/thread_pool: ParallelFor calls fn once per index, also when several
// threads share one pool.
#include "util/thread_pool.h"

#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <memory>
#include <thread>
#include <vector>

using ckpt::internal::ThreadPool;

namespace {

// Runs ParallelFor(n) and returns how often each index was visited.
std::vector<int> VisitCounts(ThreadPool& pool, size_t n) {
  auto counts = std::make_unique<std::atomic<int>[]>(n);
  for (size_t i = 0; i < n; ++i) counts[i] = 0;
  pool.ParallelFor(n, [&](size_t i) { counts[i].fetch_add(1); });
  std::vector<int> out(n);
  for (size_t i = 0; i < n; ++i) out[i] = counts[i].load();
  return out;
}

}  // namespace

TEST_CASE("ParallelFor runs each index exactly once", "[unit][util]") {
  const int threads = GENERATE(1, 2, 4);
  const size_t n = GENERATE(size_t{0}, size_t{1}, size_t{1000});
  ThreadPool pool(threads);
  CHECK(pool.size() == static_cast<size_t>(threads - 1));
  std::vector<int> counts = VisitCounts(pool, n);
  CHECK(counts == std::vector<int>(n, 1));
}

TEST_CASE("ParallelFor on a pool of 0 threads means one per core", "[unit][util]") {
  CHECK(ckpt::internal::ResolveThreadCount(0) >= 1);
  CHECK(ckpt::internal::ResolveThreadCount(3) == 3);
  ThreadPool pool(0);
  CHECK(VisitCounts(pool, 100) == std::vector<int>(100, 1));
}

TEST_CASE("ParallelFor may be called from two threads at once", "[unit][util]") {
  ThreadPool pool(3);
  constexpr size_t kN = 2000;
  constexpr int kRounds = 20;
  std::vector<int> a, b;
  std::thread other([&] {
    for (int r = 0; r < kRounds; ++r) {
      a = VisitCounts(pool, kN);
      if (a != std::vector<int>(kN, 1)) return;
    }
  });
  for (int r = 0; r < kRounds; ++r) {
    b = VisitCounts(pool, kN);
    if (b != std::vector<int>(kN, 1)) break;
  }
  other.join();
  CHECK(a == std::vector<int>(kN, 1));
  CHECK(b == std::vector<int>(kN, 1));
}

TEST_CASE("ParallelFor returns only after every call has finished", "[unit][util]") {
  ThreadPool pool(4);
  std::atomic<size_t> finished{0};
  pool.ParallelFor(64, [&](size_t) {
    std::this_thread::sleep_for(std::chrono::microseconds(200));
    finished.fetch_add(1);
  });
  CHECK(finished.load() == 64);
}

TEST_CASE("ForEachOnThreads runs each index exactly once, with calls overlapping", "[unit][util]") {
  const size_t threads = GENERATE(size_t{1}, size_t{8});
  const size_t n = GENERATE(size_t{0}, size_t{1}, size_t{64});
  auto counts = std::make_unique<std::atomic<int>[]>(n);
  for (size_t i = 0; i < n; ++i) counts[i] = 0;
  std::atomic<int> running{0}, most{0};
  ckpt::internal::ForEachOnThreads(n, threads, [&](size_t i) {
    int now = ++running;
    for (int seen = most.load(); now > seen && !most.compare_exchange_weak(seen, now);) {
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(2));  // a blocking call
    counts[i].fetch_add(1);
    --running;
  });
  for (size_t i = 0; i < n; ++i) CHECK(counts[i].load() == 1);
  // Blocking calls overlap beyond the cores of a small machine.
  if (threads == 8 && n == 64) CHECK(most.load() > 2);
  if (threads == 1) CHECK(most.load() <= 1);
}
