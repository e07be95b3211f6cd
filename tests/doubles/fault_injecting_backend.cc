#include "doubles/fault_injecting_backend.h"

namespace ckpt::internal {
namespace {

const char* KindName(FaultKind kind) {
  switch (kind) {
    case FaultKind::kIOError:
      return "EIO";
    case FaultKind::kNoSpace:
      return "ENOSPC";
    case FaultKind::kTornWrite:
      return "torn write";
    case FaultKind::kFsyncFail:
      return "fsync failure";
  }
  return "?";
}

}  // namespace

void FaultInjectingBackend::FailPutAt(uint64_t n, FaultKind kind) {
  std::lock_guard<std::mutex> lock(mu_);
  fail_put_at_ = puts_ + n;
  put_kind_ = kind;
}

void FaultInjectingBackend::FailPutsRandomly(uint64_t seed, uint32_t one_in, FaultKind kind) {
  std::lock_guard<std::mutex> lock(mu_);
  random_seed_ = seed;
  random_one_in_ = one_in;
  random_kind_ = kind;
  rng_.seed(seed);
}

void FaultInjectingBackend::FailGetAt(uint64_t n) {
  std::lock_guard<std::mutex> lock(mu_);
  fail_get_at_ = gets_ + n;
}

void FaultInjectingBackend::FailRemoveAt(uint64_t n) {
  std::lock_guard<std::mutex> lock(mu_);
  fail_remove_at_ = removes_ + n;
}

bool FaultInjectingBackend::TakeRemoveFault(const std::string& what) {
  std::lock_guard<std::mutex> lock(mu_);
  ++removes_;
  if (fail_remove_at_ == 0 || removes_ != fail_remove_at_) return false;
  log_.push_back("remove #" + std::to_string(removes_) + " " + what + ": EIO");
  return true;
}

Status FaultInjectingBackend::Remove(const std::string& name) {
  if (TakeRemoveFault(name)) return Status::IOError("remove " + name + ": injected EIO");
  return base_->Remove(name);
}

Status FaultInjectingBackend::RemoveMany(const std::vector<std::string>& names) {
  const std::string what = std::to_string(names.size()) + " objects";
  if (TakeRemoveFault(what)) return Status::IOError("remove " + what + ": injected EIO");
  return base_->RemoveMany(names);
}

Status FaultInjectingBackend::RemoveManyUnsynced(const std::vector<std::string>& names) {
  const std::string what = std::to_string(names.size()) + " objects (unsynced)";
  if (TakeRemoveFault(what)) return Status::IOError("remove " + what + ": injected EIO");
  return base_->RemoveManyUnsynced(names);
}

void FaultInjectingBackend::Clear() {
  std::lock_guard<std::mutex> lock(mu_);
  fail_put_at_ = fail_get_at_ = fail_remove_at_ = 0;
  random_one_in_ = 0;
  before_put_ = nullptr;
  before_create_ = nullptr;
  corrupt_gets_of_.clear();
}

std::vector<std::string> FaultInjectingBackend::Log() const {
  std::lock_guard<std::mutex> lock(mu_);
  return log_;
}

uint64_t FaultInjectingBackend::puts() const {
  std::lock_guard<std::mutex> lock(mu_);
  return puts_;
}

uint64_t FaultInjectingBackend::gets() const {
  std::lock_guard<std::mutex> lock(mu_);
  return gets_;
}

bool FaultInjectingBackend::TakePutFault(const std::string& name, FaultKind* kind) {
  std::lock_guard<std::mutex> lock(mu_);
  ++puts_;
  bool fail = false;
  if (fail_put_at_ != 0 && puts_ == fail_put_at_) {
    fail = true;
    *kind = put_kind_;
  } else if (random_one_in_ != 0 && rng_() % random_one_in_ == 0) {
    fail = true;
    *kind = random_kind_;
  }
  if (fail) {
    log_.push_back("put #" + std::to_string(puts_) + " " + name + ": " + KindName(*kind) +
                   (random_one_in_ ? " (seed " + std::to_string(random_seed_) + ")" : ""));
  }
  return fail;
}

void FaultInjectingBackend::BeforeNextPut(const std::string& prefix, std::function<void()> action) {
  std::lock_guard<std::mutex> lock(mu_);
  before_put_prefix_ = prefix;
  before_put_ = std::move(action);
}

void FaultInjectingBackend::BeforeNextCreate(const std::string& prefix,
                                             std::function<void()> action) {
  std::lock_guard<std::mutex> lock(mu_);
  before_create_prefix_ = prefix;
  before_create_ = std::move(action);
}

Status FaultInjectingBackend::Create(const std::string& name, const void* data, size_t size) {
  std::function<void()> action;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (before_create_ &&
        name.compare(0, before_create_prefix_.size(), before_create_prefix_) == 0) {
      action = std::move(before_create_);
      before_create_ = nullptr;
      log_.push_back("action before create " + name);
    }
  }
  if (action) action();
  return base_->Create(name, data, size);
}

Status FaultInjectingBackend::Put(const std::string& name, const void* data, size_t size) {
  std::function<void()> action;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (before_put_ && name.compare(0, before_put_prefix_.size(), before_put_prefix_) == 0) {
      action = std::move(before_put_);
      before_put_ = nullptr;
      log_.push_back("action before put " + name);
    }
  }
  if (action) action();
  FaultKind kind;
  if (!TakePutFault(name, &kind)) return base_->Put(name, data, size);
  const std::string what = "put " + name + ": injected ";
  switch (kind) {
    case FaultKind::kIOError:
      return Status::IOError(what + "EIO");
    case FaultKind::kNoSpace:
      return Status::NoSpace(what + "ENOSPC");
    case FaultKind::kTornWrite:
      (void)base_->Put(name, data, size / 2);
      return Status::IOError(what + "torn write");
    case FaultKind::kFsyncFail:
      (void)base_->Put(name, data, size);
      return Status::IOError(what + "fsync failure");
  }
  return Status::IOError(what + "fault");
}

Status FaultInjectingBackend::Get(const std::string& name, uint64_t offset, size_t length,
                                  void* dst) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    ++gets_;
    if (fail_get_at_ != 0 && gets_ == fail_get_at_) {
      log_.push_back("get #" + std::to_string(gets_) + " " + name + ": EIO");
      return Status::IOError("get " + name + ": injected EIO");
    }
  }
  Status s = base_->Get(name, offset, length, dst);
  std::lock_guard<std::mutex> lock(mu_);
  if (s.ok() && length > 0 && !corrupt_gets_of_.empty() && name.rfind(corrupt_gets_of_, 0) == 0) {
    static_cast<uint8_t*>(dst)[length / 2] ^= 0x10;
    log_.push_back("get #" + std::to_string(gets_) + " " + name + ": byte flipped");
  }
  return s;
}

void FaultInjectingBackend::CorruptGetsOf(const std::string& prefix) {
  std::lock_guard<std::mutex> lock(mu_);
  corrupt_gets_of_ = prefix;
}

}  // namespace ckpt::internal
