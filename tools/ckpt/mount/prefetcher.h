// mount/prefetcher: a few threads that read ahead of a sequential reader,
// so that the chunks of the next megabytes decode on every core while the
// kernel still asks for this one's 128 KiB pieces.
//
// Thread-safety: Run may be called from any thread.
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace ckpt::mount {

class Prefetcher {
 public:
  explicit Prefetcher(unsigned threads);
  // Waits for the running tasks; queued ones are dropped.
  ~Prefetcher();
  Prefetcher(const Prefetcher&) = delete;
  Prefetcher& operator=(const Prefetcher&) = delete;

  // Queues `task`.
  void Run(std::function<void()> task);

 private:
  void Work();

  std::mutex mu_;
  std::condition_variable wake_;
  std::deque<std::function<void()>> tasks_;
  bool stopping_ = false;
  std::vector<std::thread> threads_;
};

}  // namespace ckpt::mount
