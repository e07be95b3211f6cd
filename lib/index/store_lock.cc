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

Result<StoreLock> StoreLock::Acquire(const std::string& store_path, bool exclusive,
                                     std::chrono::milliseconds timeout, const char* name) {
  const std::string path = store_path + "/" + name;
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) return Status::IOError("open " + path + ": " + std::strerror(errno));
  StoreLock lock(fd);
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  auto pause = std::chrono::microseconds(200);
  for (;;) {
    if (::flock(fd, (exclusive ? LOCK_EX : LOCK_SH) | LOCK_NB) == 0) return lock;
    if (errno != EWOULDBLOCK && errno != EINTR)
      return Status::IOError("lock " + path + ": " + std::strerror(errno));
    if (std::chrono::steady_clock::now() >= deadline)
      return Status::Busy("the store is busy: another process held " + path + " for over " +
                          std::to_string(timeout.count()) + " ms");
    std::this_thread::sleep_for(pause);
    // Sessions last milliseconds: poll often so a waiter gets in soon after
    // a release, even when the holder comes back for another session.
    pause = std::min(pause * 2, std::chrono::microseconds(1000));
  }
}

}  // namespace ckpt::internal
