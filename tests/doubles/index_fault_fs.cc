#include "doubles/index_fault_fs.h"

#include <rocksdb/env.h>
#include <rocksdb/file_system.h>

#include "index/index.h"

namespace ckpt::internal {
namespace {

rocksdb::IOStatus Injected(IndexFault fault) {
  if (fault == IndexFault::kNoSpace) return rocksdb::IOStatus::NoSpace("injected ENOSPC");
  return rocksdb::IOStatus::IOError("injected EIO");
}

class FaultFile : public rocksdb::FSWritableFileOwnerWrapper {
 public:
  FaultFile(std::unique_ptr<rocksdb::FSWritableFile>&& file, IndexFaultInjector* injector)
      : FSWritableFileOwnerWrapper(std::move(file)), injector_(injector) {}

  using IOOptions = rocksdb::IOOptions;
  using IODebugContext = rocksdb::IODebugContext;
  using IOStatus = rocksdb::IOStatus;
  using Slice = rocksdb::Slice;

  IOStatus Append(const Slice& data, const IOOptions& o, IODebugContext* d) override {
    return Guarded([&] { return FSWritableFileOwnerWrapper::Append(data, o, d); });
  }
  IOStatus Append(const Slice& data, const IOOptions& o, const rocksdb::DataVerificationInfo& info,
                  IODebugContext* d) override {
    return Guarded([&] { return FSWritableFileOwnerWrapper::Append(data, o, info, d); });
  }
  IOStatus PositionedAppend(const Slice& data, uint64_t offset, const IOOptions& o,
                            IODebugContext* d) override {
    return Guarded(
        [&] { return FSWritableFileOwnerWrapper::PositionedAppend(data, offset, o, d); });
  }
  IOStatus Flush(const IOOptions& o, IODebugContext* d) override {
    return Guarded([&] { return FSWritableFileOwnerWrapper::Flush(o, d); });
  }
  IOStatus Sync(const IOOptions& o, IODebugContext* d) override {
    return Guarded([&] { return FSWritableFileOwnerWrapper::Sync(o, d); });
  }
  IOStatus Fsync(const IOOptions& o, IODebugContext* d) override {
    return Guarded([&] { return FSWritableFileOwnerWrapper::Fsync(o, d); });
  }

 private:
  // The injected fault if this operation is the one to fail, else `op`.
  template <typename Op>
  IOStatus Guarded(Op op) {
    IndexFault f;
    return injector_->ShouldFail(&f) ? Injected(f) : op();
  }

  IndexFaultInjector* injector_;
};

using rocksdb::IODebugContext;
using rocksdb::IOOptions;
using rocksdb::IOStatus;
using rocksdb::Slice;

IOStatus InjectedRead() { return IOStatus::IOError("injected EIO on read"); }

class FaultRandomAccessFile : public rocksdb::FSRandomAccessFileOwnerWrapper {
 public:
  FaultRandomAccessFile(std::unique_ptr<rocksdb::FSRandomAccessFile>&& file,
                        IndexFaultInjector* injector)
      : FSRandomAccessFileOwnerWrapper(std::move(file)), injector_(injector) {}

  IOStatus Read(uint64_t offset, size_t n, const IOOptions& o, Slice* result, char* scratch,
                IODebugContext* d) const override {
    if (injector_->ShouldFailRead()) return InjectedRead();
    return FSRandomAccessFileOwnerWrapper::Read(offset, n, o, result, scratch, d);
  }
  IOStatus MultiRead(rocksdb::FSReadRequest* reqs, size_t num_reqs, const IOOptions& o,
                     IODebugContext* d) override {
    if (injector_->ShouldFailRead()) {
      for (size_t i = 0; i < num_reqs; ++i) reqs[i].status = InjectedRead();
      return IOStatus::OK();
    }
    return FSRandomAccessFileOwnerWrapper::MultiRead(reqs, num_reqs, o, d);
  }

 private:
  IndexFaultInjector* injector_;
};

class FaultSequentialFile : public rocksdb::FSSequentialFileOwnerWrapper {
 public:
  FaultSequentialFile(std::unique_ptr<rocksdb::FSSequentialFile>&& file,
                      IndexFaultInjector* injector)
      : FSSequentialFileOwnerWrapper(std::move(file)), injector_(injector) {}

  IOStatus Read(size_t n, const IOOptions& o, Slice* result, char* scratch,
                IODebugContext* d) override {
    if (injector_->ShouldFailRead()) return InjectedRead();
    return FSSequentialFileOwnerWrapper::Read(n, o, result, scratch, d);
  }

 private:
  IndexFaultInjector* injector_;
};

}  // namespace

class IndexFaultInjector::FaultFileSystem : public rocksdb::FileSystemWrapper {
 public:
  explicit FaultFileSystem(IndexFaultInjector* injector)
      : FileSystemWrapper(rocksdb::FileSystem::Default()), injector_(injector) {}
  const char* Name() const override { return "ckpt.IndexFaultFileSystem"; }

  rocksdb::IOStatus NewWritableFile(const std::string& name, const rocksdb::FileOptions& options,
                                    std::unique_ptr<rocksdb::FSWritableFile>* file,
                                    rocksdb::IODebugContext* dbg) override {
    return Wrap(target()->NewWritableFile(name, options, file, dbg), file);
  }
  rocksdb::IOStatus ReopenWritableFile(const std::string& name, const rocksdb::FileOptions& options,
                                       std::unique_ptr<rocksdb::FSWritableFile>* file,
                                       rocksdb::IODebugContext* dbg) override {
    return Wrap(target()->ReopenWritableFile(name, options, file, dbg), file);
  }
  rocksdb::IOStatus ReuseWritableFile(const std::string& name, const std::string& old_name,
                                      const rocksdb::FileOptions& options,
                                      std::unique_ptr<rocksdb::FSWritableFile>* file,
                                      rocksdb::IODebugContext* dbg) override {
    return Wrap(target()->ReuseWritableFile(name, old_name, options, file, dbg), file);
  }
  rocksdb::IOStatus NewRandomAccessFile(const std::string& name,
                                        const rocksdb::FileOptions& options,
                                        std::unique_ptr<rocksdb::FSRandomAccessFile>* file,
                                        rocksdb::IODebugContext* dbg) override {
    rocksdb::IOStatus s = target()->NewRandomAccessFile(name, options, file, dbg);
    if (s.ok()) *file = std::make_unique<FaultRandomAccessFile>(std::move(*file), injector_);
    return s;
  }
  rocksdb::IOStatus NewSequentialFile(const std::string& name, const rocksdb::FileOptions& options,
                                      std::unique_ptr<rocksdb::FSSequentialFile>* file,
                                      rocksdb::IODebugContext* dbg) override {
    rocksdb::IOStatus s = target()->NewSequentialFile(name, options, file, dbg);
    if (s.ok()) *file = std::make_unique<FaultSequentialFile>(std::move(*file), injector_);
    return s;
  }
  rocksdb::IOStatus RenameFile(const std::string& from, const std::string& to,
                               const rocksdb::IOOptions& options,
                               rocksdb::IODebugContext* dbg) override {
    IndexFault f;
    if (injector_->ShouldFail(&f)) return Injected(f);
    return target()->RenameFile(from, to, options, dbg);
  }

 private:
  rocksdb::IOStatus Wrap(rocksdb::IOStatus s, std::unique_ptr<rocksdb::FSWritableFile>* file) {
    if (s.ok()) *file = std::make_unique<FaultFile>(std::move(*file), injector_);
    return s;
  }
  IndexFaultInjector* injector_;
};

IndexFaultInjector::IndexFaultInjector()
    : env_(rocksdb::NewCompositeEnv(std::make_shared<FaultFileSystem>(this))) {}

IndexFaultInjector::~IndexFaultInjector() = default;

rocksdb::Env* IndexFaultInjector::env() const { return env_.get(); }

void IndexFaultInjector::FailNth(uint64_t n, IndexFault fault, bool sticky) {
  fault_ = static_cast<int>(fault);
  sticky_ = sticky;
  fired_ = false;
  countdown_ = n;
}

void IndexFaultInjector::FailNthRead(uint64_t n, bool sticky) {
  read_sticky_ = sticky;
  fired_ = false;
  read_countdown_ = n;
}

void IndexFaultInjector::Disarm() {
  countdown_ = 0;
  read_countdown_ = 0;
}

bool IndexFaultInjector::ShouldFailRead() {
  if (!TakeCountdown(read_countdown_, read_sticky_)) return false;
  fired_ = true;
  return true;
}

bool IndexFaultInjector::TakeCountdown(std::atomic<uint64_t>& countdown, bool sticky) {
  uint64_t left = countdown.load();
  while (left > 0) {
    const uint64_t next = left == 1 ? (sticky ? 1 : 0) : left - 1;
    if (countdown.compare_exchange_weak(left, next)) return left == 1;
  }
  return false;
}

bool IndexFaultInjector::ShouldFail(IndexFault* fault) {
  if (!TakeCountdown(countdown_, sticky_)) return false;
  fired_ = true;
  *fault = static_cast<IndexFault>(fault_.load());
  return true;
}

IndexEnvScope::IndexEnvScope(rocksdb::Env* env) { SetIndexEnvForTesting(env); }
IndexEnvScope::~IndexEnvScope() { SetIndexEnvForTesting(nullptr); }

}  // namespace ckpt::internal
