// util/thread_pool: a fixed pool of workers for the CPU-bound parts of save,
// load and verify (hashing, compression, decoding).
#pragma once

#include <condition_variable>
#include <cstddef>
#include <functional>
#include <mutex>
#include <queue>
#include <thread>
#include <vector>

namespace ckpt::internal {

class ThreadPool {
 public:
  // `threads` <= 0 means one per core.
  explicit ThreadPool(int threads);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  size_t size() const { return workers_.size(); }

  // Runs fn(i) for i in [0, n) on the pool and the calling thread, returning
  // when all calls are done. Safe to call from several threads at once; must
  // not be called from inside fn (the pool would wait on itself).
  void ParallelFor(size_t n, const std::function<void(size_t)>& fn);

 private:
  void WorkerLoop();

  std::vector<std::thread> workers_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::queue<std::function<void()>> tasks_;
  bool stopping_ = false;
};

// Number of worker threads to use for `requested` (<= 0: the core count).
int ResolveThreadCount(int requested);

// Runs fn(i) for i in [0, n) on up to `threads` threads started for the
// call, each taking the next index: for blocking I/O (fsync, unlinking large
// files), where more calls in flight than cores pays.
void ForEachOnThreads(size_t n, size_t threads, const std::function<void(size_t)>& fn);

}  // namespace ckpt::internal
