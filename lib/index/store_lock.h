// index/store_lock: the cross-process lock that serializes index writers.
// An flock(2) on "<store>/index.lock": writers hold it exclusively for one
// short session (open the index read-write, commit, close); readers hold it
// shared only while opening their read-only view. Nobody holds it between
// operations, so a trainer that saves every few minutes never blocks a
// scheduled gc in the idle time between saves. A foreground caller that has
// to wait says so with a shared flock on "<store>/index.wait"; background
// callers (gc) do not take "index.lock" while anyone says so, so a save
// waits for at most the one gc session under way.
#pragma once

#include <chrono>
#include <string>

#include "ckpt/result.h"

namespace ckpt::internal {

enum class LockPriority { kForeground, kBackground };

inline constexpr const char* kIndexLockName = "index.lock";

class StoreLock {
 public:
  StoreLock() = default;
  StoreLock(StoreLock&& other) noexcept : fd_(other.fd_) { other.fd_ = -1; }
  StoreLock& operator=(StoreLock&& other) noexcept;
  ~StoreLock();

  // Takes the lock of the store at `store_path`, waiting up to `timeout`;
  // kBusy after that. `name` picks the lock file: "index.lock" for index
  // sessions, "gc.lock" for whole garbage collections. For "index.lock" a
  // kBackground caller also waits while any kForeground caller waits for it.
  static Result<StoreLock> Acquire(const std::string& store_path, bool exclusive,
                                   std::chrono::milliseconds timeout,
                                   const char* name = kIndexLockName,
                                   LockPriority priority = LockPriority::kForeground);

  // True while a foreground caller waits for "index.lock" of the store at
  // `store_path` (false if that cannot be told).
  static bool ForegroundWaiting(const std::string& store_path);

 private:
  explicit StoreLock(int fd) : fd_(fd) {}
  int fd_ = -1;
};

}  // namespace ckpt::internal
