// The store lock: exclusion, the time limit, and foreground callers going
// ahead of background ones.
#include "index/store_lock.h"

#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <mutex>
#include <thread>
#include <vector>

#include "test_util.h"

using namespace ckpt;
using namespace ckpt::internal;
using namespace std::chrono_literals;

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
          "[index][lock]") {
  ckpt::test::TempDir dir;
  auto held = StoreLock::Acquire(dir.path(), true, kLong);
  REQUIRE(held.ok());
  std::mutex mu;
  std::vector<char> order;
  auto take = [&](char who, LockPriority priority) {
    auto lock = StoreLock::Acquire(dir.path(), true, kLong, "index.lock", priority);
    REQUIRE(lock.ok());
    {
      std::lock_guard<std::mutex> guard(mu);
      order.push_back(who);
    }
    std::this_thread::sleep_for(5ms);  // hold it a moment, as a session would
  };
  std::thread foreground(take, 'F', LockPriority::kForeground);
  std::this_thread::sleep_for(30ms);  // the foreground caller is waiting now
  std::thread background(take, 'B', LockPriority::kBackground);
  std::this_thread::sleep_for(30ms);
  *held = StoreLock();
  foreground.join();
  background.join();
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
          "[index][lock]") {
  ckpt::test::TempDir dir;
  auto held = StoreLock::Acquire(dir.path(), true, kLong);
  REQUIRE(held.ok());
  std::atomic<bool> done{false};
  std::thread foreground([&] {
    auto lock = StoreLock::Acquire(dir.path(), true, kLong);
    CHECK(lock.ok());
    done = true;
  });
  std::this_thread::sleep_for(30ms);
  auto background = StoreLock::Acquire(dir.path(), false, std::chrono::milliseconds(30),
                                       "index.lock", LockPriority::kBackground);
  CHECK(background.status().code() == Code::kBusy);
  *held = StoreLock();
  foreground.join();
  CHECK(done);
}

TEST_CASE("a caller waiting for gc.lock does not hold up gc's sessions", "[index][lock]") {
  ckpt::test::TempDir dir;
  // The running gc holds gc.lock; a second gc waits for it.
  auto running_gc = StoreLock::Acquire(dir.path(), true, kLong, "gc.lock");
  REQUIRE(running_gc.ok());
  std::thread second_gc([&] {
    auto lock = StoreLock::Acquire(dir.path(), true, std::chrono::milliseconds(300), "gc.lock");
    CHECK(lock.status().code() == Code::kBusy);
  });
  std::this_thread::sleep_for(30ms);
  // The running gc's next session gets index.lock at once.
  auto session = StoreLock::Acquire(dir.path(), true, std::chrono::milliseconds(100), "index.lock",
                                    LockPriority::kBackground);
  CHECK(session.ok());
  second_gc.join();
}

TEST_CASE("ForegroundWaiting tells whether a foreground caller waits for index.lock",
          "[index][lock]") {
  ckpt::test::TempDir dir;
  CHECK_FALSE(StoreLock::ForegroundWaiting(dir.path()));  // no index.wait yet
  auto held = StoreLock::Acquire(dir.path(), true, kLong);
  REQUIRE(held.ok());
  CHECK_FALSE(StoreLock::ForegroundWaiting(dir.path()));
  std::thread waiter([&] { CHECK(StoreLock::Acquire(dir.path(), false, kLong).ok()); });
  bool seen = false;
  for (int i = 0; i < 200 && !seen; ++i) {
    std::this_thread::sleep_for(5ms);
    seen = StoreLock::ForegroundWaiting(dir.path());
  }
  CHECK(seen);
  *held = StoreLock();
  waiter.join();
  CHECK_FALSE(StoreLock::ForegroundWaiting(dir.path()));
}
