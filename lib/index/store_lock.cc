#include "index/store_lock.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <thread>

namespace ckpt::internal {

StoreLock& StoreLock::operator=(StoreLock&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = other.fd_;
    other.fd_ = -1;
  }
  return *this;
}

StoreLock::~StoreLock() {
  if (fd_ >= 0) ::close(fd_);  // closing the descriptor releases the flock
}

namespace {

// An open descriptor that closes itself.
class FileDescriptor {
 public:
  explicit FileDescriptor(int fd = -1) : fd_(fd) {}
  FileDescriptor(const FileDescriptor&) = delete;
  FileDescriptor& operator=(const FileDescriptor&) = delete;
  ~FileDescriptor() {
    if (fd_ >= 0) ::close(fd_);
  }
  int get() const { return fd_; }
  void reset(int fd) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = fd;
  }

 private:
  int fd_;
};

Result<int> OpenLockFile(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) return Status::IOError("open " + path + ": " + std::strerror(errno));
  return fd;
}

// True while a foreground caller holds "index.wait" shared. The probe's
// own exclusive hold lasts two system calls; a foreground caller that
// meets it retries at its next poll.
bool AnnouncedWaiters(int wait_fd) {
  if (::flock(wait_fd, LOCK_EX | LOCK_NB) != 0) return true;
  ::flock(wait_fd, LOCK_UN);
  return false;
}

}  // namespace

Result<StoreLock> StoreLock::Acquire(const std::string& store_path, bool exclusive,
                                     std::chrono::milliseconds timeout, const char* name,
                                     LockPriority priority) {
  const std::string path = store_path + "/" + name;
  const std::string wait_path = store_path + "/index.wait";
  CKPT_ASSIGN_OR_RETURN(int lock_fd, OpenLockFile(path));
  StoreLock lock(lock_fd);
  // index.wait is about index.lock only: a second gc waiting for gc.lock
  // must not hold up the gc that holds it.
  const bool for_index = std::strcmp(name, kIndexLockName) == 0;
  const bool background = for_index && priority == LockPriority::kBackground;
  const bool foreground = for_index && priority == LockPriority::kForeground;
  FileDescriptor wait_fd;  // background: the probe; foreground: the announcement
  if (background) {
    CKPT_ASSIGN_OR_RETURN(int fd, OpenLockFile(wait_path));
    wait_fd.reset(fd);
  }
  bool announced = false;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  auto pause = std::chrono::microseconds(200);
  for (;;) {
    if (!(background && AnnouncedWaiters(wait_fd.get()))) {
      if (::flock(lock.fd_, (exclusive ? LOCK_EX : LOCK_SH) | LOCK_NB) == 0) return lock;
      if (errno != EWOULDBLOCK && errno != EINTR)
        return Status::IOError("lock " + path + ": " + std::strerror(errno));
    }
    if (foreground && !announced) {
      if (wait_fd.get() < 0) {
        CKPT_ASSIGN_OR_RETURN(int fd, OpenLockFile(wait_path));
        wait_fd.reset(fd);
      }
      announced = ::flock(wait_fd.get(), LOCK_SH | LOCK_NB) == 0;
    }
    if (std::chrono::steady_clock::now() >= deadline)
      return Status::Busy("the store is busy: another process held " + path + " for over " +
                          std::to_string(timeout.count()) + " ms");
    std::this_thread::sleep_for(pause);
    // Sessions last milliseconds: poll often so a waiter gets in soon after
    // a release, even when the holder comes back for another session.
    pause = std::min(pause * 2, std::chrono::microseconds(1000));
  }
}

bool StoreLock::ForegroundWaiting(const std::string& store_path) {
  const std::string path = store_path + "/index.wait";
  FileDescriptor fd(::open(path.c_str(), O_RDWR | O_CLOEXEC));
  return fd.get() >= 0 && AnnouncedWaiters(fd.get());
}

}  // namespace ckpt::internal
