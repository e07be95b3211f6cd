// Real crashes against the bucket of a real Ceph RGW, as crash_test.cc
// does on a directory: a worker process saves checkpoints to the bucket in
// a loop and is killed with SIGKILL at a random moment, over and over. After
// each kill another host (its own index cache) opens the store, verifies it
// reading every chunk, and loads every checkpoint the worker reported
// committed bit-exact; the next worker reopens the dead one's cache.
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <random>
#include <set>
#include <sstream>
#include <thread>

#include "ckpt/s3.h"
#include "s3/s3_env.h"
#include "store/store_fixture.h"
#include "test_util.h"

using namespace ckpt;
using namespace ckpt::test;

namespace {

std::set<uint64_t> ParseSteps(const std::string& text) {
  std::set<uint64_t> steps;
  std::istringstream in(text);
  for (uint64_t step; in >> step;) steps.insert(step);
  return steps;
}

// What the worker printed until its first whole line (its first commit), or
// until `timeout` passed.
std::string WaitForFirstCommit(int fd, std::chrono::seconds timeout) {
  std::string out;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (out.find('\n') == std::string::npos) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) break;
    pollfd p{fd, POLLIN, 0};
    const int ready = poll(&p, 1, static_cast<int>(left.count()));
    if (ready < 0 && errno == EINTR) continue;
    if (ready <= 0) break;
    char buf[256];
    const ssize_t n = read(fd, buf, sizeof(buf));
    if (n <= 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  return out;
}

constexpr const char* kExpired = "expires_ns=1000\n";

// A worker killed inside its commit leaves its writer lease, which other
// hosts wait out (120 s). The test stands in for that wait: before it starts
// the next worker, it checks that a lease in the bucket is a dead worker's
// and sets its expiry in the past, which is what the next writer would see
// once the time had passed. A lease expired so earlier stays until a writer
// takes it over. True if it found a live one. A request a worker sent just
// before it died (its lease's creation, say) may reach the server after its
// death: checking only after the reader's verify, not at once after the
// kill, lets such requests land first.
bool ExpireDeadWorkersLease(Backend& bucket, const std::set<int>& dead) {
  auto size = bucket.Size("locks/index");
  if (size.status().code() == Code::kNotFound) return false;
  REQUIRE(size.ok());
  std::string lease(*size, '\0');
  Status read = bucket.Get("locks/index", 0, lease.size(), lease.data());
  if (read.code() == Code::kNotFound) return false;
  REQUIRE(read.ok());
  const std::string holder = lease.substr(0, lease.find("expires_ns="));
  if (lease == holder + kExpired) return false;
  INFO(lease);
  bool ours = false;
  for (int pid : dead) ours |= holder.find(":" + std::to_string(pid) + ":") != std::string::npos;
  CHECK(ours);
  const std::string expired = holder + kExpired;
  REQUIRE(bucket.Put("locks/index", expired.data(), expired.size()).ok());
  return true;
}

}  // namespace

TEST_CASE("SIGKILL during saves to a bucket loses no committed checkpoint", "[s3][crash][slow]") {
  const S3Options s3 = FreshS3Options("crash");
  const std::string url = "s3://" + s3.bucket + "/" + s3.prefix;
  auto bucket_or = NewS3Backend(s3);
  REQUIRE(bucket_or.ok());
  Backend& bucket = **bucket_or;
  TempDir dir;
  // The workers' host: every worker finds its predecessor's cache.
  REQUIRE(setenv("CKPT_CACHE_DIR", dir.Sub("worker-cache").c_str(), 1) == 0);
  StoreOptions reader_options;
  reader_options.cache_dir = dir.Sub("reader-cache");

  std::mt19937_64 rng(20261124);
  std::set<uint64_t> committed;
  uint64_t next_step = 0;
  int leases_left = 0;
  const int kRounds = 20;
  std::set<int> dead;
  for (int round = 0; round < kRounds; ++round) {
    leases_left += ExpireDeadWorkersLease(bucket, dead);
    Worker w = SpawnWorker(
        {"save-loop", url, "crash", std::to_string(next_step), std::to_string(256 * 1024)});
    // Odd rounds count the delay from the first commit, so that kills fall
    // among commits on any machine; even ones from the start, so that opening
    // the store and the first save are killed too.
    auto delay = std::chrono::microseconds(20000 + rng() % 300000);
    std::string early;
    if (round % 2 == 1) early = WaitForFirstCommit(w.out_fd, std::chrono::seconds(60));
    std::this_thread::sleep_for(delay);
    kill(w.pid, SIGKILL);
    const int code = WaitForExit(w.pid);
    dead.insert(w.pid);
    const auto steps = ParseSteps(early + ReadToEnd(w.out_fd));
    INFO("round " << round << ", killed after " << delay.count() << " us");
    REQUIRE(code == 128 + SIGKILL);  // it must not have failed on its own
    committed.insert(steps.begin(), steps.end());
    if (!steps.empty()) next_step = *steps.rbegin() + 1;
    // A save killed after its commit record was created committed without
    // saying so: the next round starts past it.
    next_step += 1;

    auto reader = MustOpen(url, reader_options);
    auto report = reader->Verify(ReadAllData());
    REQUIRE(report.ok());
    for (const auto& p : report->problems) FAIL_CHECK(p.status.ToString());
    for (uint64_t step : steps) {
      auto loaded = reader->Load("crash@" + std::to_string(step));
      REQUIRE(loaded.ok());
      CHECK(StepState(step).Matches(*loaded));
    }
  }
  // A host that never saw the store replays the whole log and finds every
  // checkpoint ever reported committed.
  StoreOptions fresh_options;
  fresh_options.cache_dir = dir.Sub("fresh-cache");
  auto fresh = MustOpen(url, fresh_options);
  for (uint64_t step : committed) {
    auto loaded = fresh->Load("crash@" + std::to_string(step));
    REQUIRE(loaded.ok());
    CHECK(StepState(step).Matches(*loaded));
  }
  auto report = fresh->Verify(ReadAllData());
  REQUIRE(report.ok());
  CHECK(report->problems.empty());
  CHECK(committed.size() >= kRounds / 2);
  WARN(committed.size() << " checkpoints committed in " << kRounds << " rounds; " << leases_left
                        << " kills left a writer lease");
}
