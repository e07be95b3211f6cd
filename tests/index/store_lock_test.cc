// The store lock: exclusion, the time limit, and foreground callers going
// ahead of background ones. Threads are ordered by what the lock files show
// (a foreground caller's claim on index.wait), never by sleeping; the time
// limits below are the lock's own, under test.
#include "index/store_lock.h"

#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <latch>
#include <mutex>
#include <thread>
#include <vector>

#include "test_util.h"

using namespace ckpt;
using namespace ckpt::internal;
using ckpt::test::WaitUntil;

namespace {

constexpr auto kLong = std::chrono::milliseconds(10000);

}  // namespace

TEST_CASE("an exclusive store lock excludes others until released", "[index][lock]") {
  ckpt::test::TempDir dir;
  auto held = StoreLock::Acquire(dir.path(), true, kLong);
  REQUIRE(held.ok());
  auto other = StoreLock::Acquire(dir.path(), false, std::chrono::milliseconds(20));
  REQUIRE_FALSE(other.ok());
  CHECK(other.status().code() == Code::kBusy);
  CHECK(other.status().ToString().find("index.lock") != std::string::npos);
  *held = StoreLock();  // released
  CHECK(StoreLock::Acquire(dir.path(), false, std::chrono::milliseconds(20)).ok());
}

TEST_CASE("a background caller waits while a foreground caller waits for the store lock",
          "[index][lock][threads]") {
  ckpt::test::TempDir dir;
  auto held = StoreLock::Acquire(dir.path(), true, kLong);
  REQUIRE(held.ok());
  std::mutex mu;
  std::vector<char> order;            // guarded by mu
  std::vector<std::string> failures;  // guarded by mu
  auto take = [&](char who, LockPriority priority) {
    auto lock = StoreLock::Acquire(dir.path(), true, kLong, "index.lock", priority);
    std::lock_guard<std::mutex> guard(mu);
    if (lock.ok())
      order.push_back(who);  // still holding it
    else
      failures.push_back(lock.status().ToString());
  };
  std::thread foreground(take, 'F', LockPriority::kForeground);
  // The foreground caller waits now: it has announced itself on index.wait.
  const bool foreground_waits = WaitUntil([&] { return StoreLock::ForegroundWaiting(dir.path()); });
  // Whether the background caller has polled before the release or not, it
  // comes second: the announcement stands until the foreground caller holds
  // index.lock.
  std::latch background_started(1);
  std::thread background([&] {
    background_started.count_down();
    take('B', LockPriority::kBackground);
  });
  background_started.wait();
  *held = StoreLock();
  foreground.join();
  background.join();
  CHECK(foreground_waits);
  CHECK(failures.empty());
  REQUIRE(order == std::vector<char>{'F', 'B'});
}

TEST_CASE("a background caller takes the store lock when no one waits", "[index][lock]") {
  ckpt::test::TempDir dir;
  auto lock = StoreLock::Acquire(dir.path(), true, kLong, "index.lock", LockPriority::kBackground);
  CHECK(lock.ok());
  // A foreground caller that found the lock free announced nothing.
  *lock = StoreLock();
  auto shared = StoreLock::Acquire(dir.path(), false, kLong);
  REQUIRE(shared.ok());
  CHECK(StoreLock::Acquire(dir.path(), false, kLong, "index.lock", LockPriority::kBackground).ok());
}

TEST_CASE("a background caller gives up after the time limit while foreground callers wait",
          "[index][lock][threads]") {
  ckpt::test::TempDir dir;
  auto held = StoreLock::Acquire(dir.path(), true, kLong);
  REQUIRE(held.ok());
  std::atomic<bool> foreground_ok{false};
  std::thread foreground([&] { foreground_ok = StoreLock::Acquire(dir.path(), true, kLong).ok(); });
  const bool foreground_waits = WaitUntil([&] { return StoreLock::ForegroundWaiting(dir.path()); });
  auto background = StoreLock::Acquire(dir.path(), false, std::chrono::milliseconds(30),
                                       "index.lock", LockPriority::kBackground);
  *held = StoreLock();
  foreground.join();
  CHECK(foreground_waits);
  CHECK(background.status().code() == Code::kBusy);
  CHECK(foreground_ok);
}

TEST_CASE("a caller waiting for gc.lock does not hold up gc's sessions", "[index][lock][threads]") {
  ckpt::test::TempDir dir;
  // The running gc holds gc.lock; a second gc waits for it.
  auto running_gc = StoreLock::Acquire(dir.path(), true, kLong, "gc.lock");
  REQUIRE(running_gc.ok());
  std::atomic<bool> second_done{false};
  Code second_code = Code::kOk;
  std::thread second_gc([&] {
    second_code = StoreLock::Acquire(dir.path(), true, std::chrono::milliseconds(300), "gc.lock")
                      .status()
                      .code();
    second_done = true;
  });
  // The running gc's sessions get index.lock at once, again and again for
  // as long as the second gc waits: some of them fall in its wait.
  int sessions = 0;
  std::vector<std::string> failures;
  do {
    auto session = StoreLock::Acquire(dir.path(), true, std::chrono::milliseconds(100),
                                      "index.lock", LockPriority::kBackground);
    if (!session.ok()) failures.push_back(session.status().ToString());
    ++sessions;
  } while (!second_done);
  second_gc.join();
  CHECK(second_code == Code::kBusy);
  CHECK(sessions > 0);
  CHECK(failures.empty());
}

TEST_CASE("ForegroundWaiting tells whether a foreground caller waits for index.lock",
          "[index][lock][threads]") {
  ckpt::test::TempDir dir;
  CHECK_FALSE(StoreLock::ForegroundWaiting(dir.path()));  // no index.wait yet
  auto held = StoreLock::Acquire(dir.path(), true, kLong);
  REQUIRE(held.ok());
  CHECK_FALSE(StoreLock::ForegroundWaiting(dir.path()));
  std::atomic<bool> waiter_ok{false};
  std::thread waiter([&] { waiter_ok = StoreLock::Acquire(dir.path(), false, kLong).ok(); });
  const bool seen = WaitUntil([&] { return StoreLock::ForegroundWaiting(dir.path()); });
  *held = StoreLock();
  waiter.join();
  CHECK(seen);
  CHECK(waiter_ok);
  CHECK_FALSE(StoreLock::ForegroundWaiting(dir.path()));
}
