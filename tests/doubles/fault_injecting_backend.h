// doubles/fault_injecting_backend: a test double (tests only, never shipped). It
// wraps a real backend and makes chosen calls fail the way disks fail: EIO,
// ENOSPC, a torn (partial) object, an fsync that reports failure after the
// bytes were handed over. It also injects bad timing: another actor (a gc in
// another process) running at the worst moment of a save. Every fault is
// logged with its trigger so that a failing test can be replayed.
#pragma once

#include <functional>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <vector>

#include "ckpt/backend.h"

namespace ckpt::internal {

enum class FaultKind {
  kIOError,    // nothing is written; Put returns kIOError (EIO)
  kNoSpace,    // nothing is written; Put returns kNoSpace (ENOSPC)
  kTornWrite,  // the first half of the bytes lands under the name; kIOError
  kFsyncFail,  // all bytes land, but Put reports kIOError (failed fsync)
};

class FaultInjectingBackend : public Backend {
 public:
  explicit FaultInjectingBackend(std::shared_ptr<Backend> base) : base_(std::move(base)) {}

  // The n-th Put from now (1 = the next one) fails with `kind`.
  void FailPutAt(uint64_t n, FaultKind kind);
  // From now on, each Put fails with `kind` with probability 1/one_in,
  // decided by a generator seeded with `seed`.
  void FailPutsRandomly(uint64_t seed, uint32_t one_in, FaultKind kind);
  // The n-th Get from now fails with kIOError.
  void FailGetAt(uint64_t n);
  // The n-th deletion call from now (Remove, RemoveMany or
  // RemoveManyUnsynced) fails with kIOError, deleting nothing.
  void FailRemoveAt(uint64_t n);
  // While set, every Get of an object whose name starts with `prefix`
  // returns its bytes with the middle one flipped, as a failing disk or bus
  // might; the object itself stays intact. An empty prefix stops it.
  void CorruptGetsOf(const std::string& prefix);
  // Runs `action` once, just before the next Put of an object whose name
  // starts with `prefix`, then lets that Put proceed.
  void BeforeNextPut(const std::string& prefix, std::function<void()> action);
  // The same for the next Create (a conditional create: a lease, an index
  // log record, a config).
  void BeforeNextCreate(const std::string& prefix, std::function<void()> action);
  // Removes every planned fault.
  void Clear();
  // Faults injected so far, one line each.
  std::vector<std::string> Log() const;
  uint64_t puts() const;
  // Get calls so far (reads a store made, e.g. to count its requests).
  uint64_t gets() const;

  Status Put(const std::string& name, const void* data, size_t size) override;
  // No fault is injected into Create yet, only the action before it.
  Status Create(const std::string& name, const void* data, size_t size) override;
  Status Get(const std::string& name, uint64_t offset, size_t length, void* dst) override;
  Result<uint64_t> Size(const std::string& name) override { return base_->Size(name); }
  Result<std::vector<std::string>> List(const std::string& prefix) override {
    return base_->List(prefix);
  }
  Result<std::vector<std::string>> ListAfter(const std::string& prefix,
                                             const std::string& after) override {
    return base_->ListAfter(prefix, after);
  }
  Status Remove(const std::string& name) override;
  Status RemoveMany(const std::vector<std::string>& names) override;
  Status RemoveManyUnsynced(const std::vector<std::string>& names) override;
  Result<int64_t> ModifiedTimeNs(const std::string& name) override {
    return base_->ModifiedTimeNs(name);
  }
  Result<AbandonedWrites> RemoveAbandonedWrites(const std::string& prefix,
                                                int64_t written_before_ns) override {
    return base_->RemoveAbandonedWrites(prefix, written_before_ns);
  }
  std::string Describe() const override { return "faulty(" + base_->Describe() + ")"; }

 private:
  bool TakePutFault(const std::string& name, FaultKind* kind);
  // Counts a deletion call; true if it is the one to fail.
  bool TakeRemoveFault(const std::string& what);

  std::shared_ptr<Backend> base_;
  mutable std::mutex mu_;
  uint64_t puts_ = 0;
  uint64_t gets_ = 0;
  uint64_t fail_put_at_ = 0;  // absolute Put count, 0 = none
  FaultKind put_kind_ = FaultKind::kIOError;
  uint64_t fail_get_at_ = 0;
  uint64_t removes_ = 0;
  uint64_t fail_remove_at_ = 0;
  uint32_t random_one_in_ = 0;
  uint64_t random_seed_ = 0;
  FaultKind random_kind_ = FaultKind::kIOError;
  std::mt19937_64 rng_;
  std::vector<std::string> log_;
  std::string before_put_prefix_;
  std::function<void()> before_put_;
  std::string before_create_prefix_;
  std::function<void()> before_create_;
  std::string corrupt_gets_of_;
};

}  // namespace ckpt::internal
