// doubles/index_fault_fs: a RocksDB file system that fails the n-th write,
// flush, sync or rename of the index's files with EIO or ENOSPC, or the
// n-th read of one with EIO, so tests can show what a failing disk under
// the index does to commits and to the decisions gc takes (the pack side
// has doubles/fault_injecting_backend.h). Test support only; installed by
// SetIndexEnvForTesting (index/index.h).
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>

namespace rocksdb {
class Env;
}  // namespace rocksdb

namespace ckpt::internal {

enum class IndexFault { kIoError, kNoSpace };

class IndexFaultInjector {
 public:
  IndexFaultInjector();
  ~IndexFaultInjector();
  IndexFaultInjector(const IndexFaultInjector&) = delete;
  IndexFaultInjector& operator=(const IndexFaultInjector&) = delete;

  // From now on, the `n`-th (1-based) write operation on any index file
  // fails with `fault`, and, if `sticky`, every one after it too.
  void FailNth(uint64_t n, IndexFault fault, bool sticky);
  // From now on, the `n`-th (1-based) read of any index file (tables,
  // MANIFEST, log) fails with EIO, and, if `sticky`, every one after it.
  // Independent of FailNth.
  void FailNthRead(uint64_t n, bool sticky);
  // Lets every operation through again.
  void Disarm();
  // Whether an operation has failed since the last FailNth.
  bool fired() const { return fired_; }

  // The environment to hand to RocksDB: the default one, with this file
  // system. Valid while this injector lives.
  rocksdb::Env* env() const;

  // Called by the file wrappers: true if this operation must fail.
  bool ShouldFail(IndexFault* fault);
  bool ShouldFailRead();

 private:
  class FaultFileSystem;
  // The n-th call from arming fails, and every later one if sticky; 0:
  // disarmed.
  static bool TakeCountdown(std::atomic<uint64_t>& countdown, bool sticky);
  std::atomic<uint64_t> countdown_{0};  // 0: disarmed
  std::atomic<bool> sticky_{false};
  std::atomic<bool> fired_{false};
  std::atomic<int> fault_{0};
  std::atomic<uint64_t> read_countdown_{0};  // 0: disarmed
  std::atomic<bool> read_sticky_{false};
  std::unique_ptr<rocksdb::Env> env_;
};

// Routes this process's index I/O through `env` for one scope.
class IndexEnvScope {
 public:
  explicit IndexEnvScope(rocksdb::Env* env);
  ~IndexEnvScope();
  IndexEnvScope(const IndexEnvScope&) = delete;
  IndexEnvScope& operator=(const IndexEnvScope&) = delete;
};

}  // namespace ckpt::internal
