// util/thread_pool: ParallelFor calls fn once per index, also when several
// threads share one pool.
#include "util/thread_pool.h"

#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
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

TEST_CASE("ParallelFor runs each index exactly once", "[unit][util][threads]") {
  const int threads = GENERATE(1, 2, 4);
  const size_t n = GENERATE(size_t{0}, size_t{1}, size_t{1000});
  ThreadPool pool(threads);
  CHECK(pool.size() == static_cast<size_t>(threads - 1));
  std::vector<int> counts = VisitCounts(pool, n);
  CHECK(counts == std::vector<int>(n, 1));
}

TEST_CASE("ParallelFor on a pool of 0 threads means one per core", "[unit][util][threads]") {
  CHECK(ckpt::internal::ResolveThreadCount(0) >= 1);
  CHECK(ckpt::internal::ResolveThreadCount(3) == 3);
  ThreadPool pool(0);
  CHECK(VisitCounts(pool, 100) == std::vector<int>(100, 1));
}

TEST_CASE("ParallelFor may be called from two threads at once", "[unit][util][threads]") {
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

TEST_CASE("ParallelFor returns only after every call has finished", "[unit][util][threads]") {
  ThreadPool pool(4);
  constexpr size_t kN = 64;
  const auto caller = std::this_thread::get_id();
  std::mutex mu;
  std::condition_variable cv;
  size_t finished = 0;  // guarded by mu
  std::atomic<bool> holding{false};
  pool.ParallelFor(kN, [&](size_t) {
    std::unique_lock<std::mutex> lock(mu);
    // The first call on a pool thread ends last: it waits for every other
    // call, so it still runs when the calling thread runs out of indices.
    if (std::this_thread::get_id() != caller && !holding.exchange(true))
      cv.wait(lock, [&] { return finished == kN - 1; });
    ++finished;
    cv.notify_all();
  });
  std::lock_guard<std::mutex> lock(mu);
  CHECK(finished == kN);
}

TEST_CASE("ForEachOnThreads runs each index exactly once, with calls overlapping",
          "[unit][util][threads]") {
  const size_t threads = GENERATE(size_t{1}, size_t{8});
  const size_t n = GENERATE(size_t{0}, size_t{1}, size_t{64});
  auto counts = std::make_unique<std::atomic<int>[]>(n);
  for (size_t i = 0; i < n; ++i) counts[i] = 0;
  std::atomic<int> running{0}, most{0};
  // Blocking calls overlap beyond the cores of a small machine: with 8
  // threads the first three calls (each on its own thread, as a thread in a
  // call takes no other index) wait until all three run. The time limit
  // only turns a broken build's hang into a failure.
  const bool overlap = threads == 8 && n == 64;
  std::mutex mu;
  std::condition_variable cv;
  int arrived = 0;  // guarded by mu
  std::atomic<bool> timed_out{false};
  ckpt::internal::ForEachOnThreads(n, threads, [&](size_t i) {
    int now = ++running;
    for (int seen = most.load(); now > seen && !most.compare_exchange_weak(seen, now);) {
    }
    if (overlap && i < 3) {
      std::unique_lock<std::mutex> lock(mu);
      ++arrived;
      cv.notify_all();
      if (!cv.wait_for(lock, std::chrono::minutes(2), [&] { return arrived == 3; }))
        timed_out = true;
    }
    counts[i].fetch_add(1);
    --running;
  });
  for (size_t i = 0; i < n; ++i) CHECK(counts[i].load() == 1);
  CHECK_FALSE(timed_out);
  if (overlap) CHECK(most.load() >= 3);
  if (threads == 1) CHECK(most.load() <= 1);
}
