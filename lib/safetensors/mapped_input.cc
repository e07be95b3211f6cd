#include "safetensors/mapped_input.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#ifndef MADV_POPULATE_READ
#define MADV_POPULATE_READ 22  // Linux 5.14; older kernels fall back to WILLNEED
#endif

namespace ckpt::internal {
namespace {

Status ErrnoStatus(const std::string& what, int err) {
  return Status::IOError(what + ": " + std::strerror(err));
}

}  // namespace

MappedInput::~MappedInput() {
  if (populator_.joinable()) {
    {
      std::lock_guard lock(mu_);
      stopping_ = true;
    }
    moved_.notify_all();
    populator_.join();
  }
  if (data_ != nullptr) munmap(data_, size_);
  if (fd_ >= 0) close(fd_);
}

Status MappedInput::Map(const std::string& path) {
  fd_ = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd_ < 0) {
    if (errno == ENOENT) return Status::NotFound("no such file");
    return ErrnoStatus("open", errno);
  }
  struct stat st;
  if (fstat(fd_, &st) != 0) return ErrnoStatus("stat", errno);
  if (!S_ISREG(st.st_mode)) return Status::InvalidArgument("not a regular file");
  if (st.st_size == 0) return Status::OK();
  size_ = static_cast<size_t>(st.st_size);
  const bool whole = size_ <= windows_.whole_map_limit;
  void* p = mmap(nullptr, size_, PROT_READ, MAP_PRIVATE | (whole ? MAP_POPULATE : 0), fd_, 0);
  if (p == MAP_FAILED) {
    size_ = 0;
    return ErrnoStatus("mmap", errno);
  }
  data_ = p;
  // Save reads the tensors front to back; ask for aggressive readahead.
  madvise(data_, size_, MADV_SEQUENTIAL);
  if (!whole) populator_ = std::thread([this] { Populate(); });
  return Status::OK();
}

void MappedInput::Advance(uint64_t offset) {
  {
    std::lock_guard lock(mu_);
    if (offset <= consumed_) return;
    consumed_ = offset;
  }
  moved_.notify_one();
}

void MappedInput::Populate() {
  char* base = static_cast<char*>(data_);
  const uint64_t window = windows_.window;
  uint64_t populated = 0;  // [0, populated) was populated
  uint64_t dropped = 0;    // [0, dropped) was dropped
  std::unique_lock lock(mu_);
  // Runs until the mapping goes: the reader may still advance after the
  // last window is populated, and what it passes must still be dropped.
  while (!stopping_) {
    const uint64_t consumed = consumed_;
    const uint64_t want = std::min<uint64_t>(size_, consumed + windows_.windows_ahead * window);
    const uint64_t drop_to = consumed > 2 * window ? (consumed - 2 * window) / window * window : 0;
    // A reader faster than this thread needs no help where it has been
    // (and its pages there may be dropped already).
    populated = std::max(populated, std::min<uint64_t>(size_, consumed));
    if (populated >= want && dropped >= drop_to) {
      moved_.wait(lock);
      continue;
    }
    lock.unlock();
    if (populated < want) {
      const uint64_t len = std::min<uint64_t>(window, size_ - populated);
      // A failure only costs the save its page faults: ignore it.
      if (madvise(base + populated, len, MADV_POPULATE_READ) != 0) {
        madvise(base + populated, len, MADV_WILLNEED);
      }
      populated += len;
    }
    if (dropped < drop_to) {
      madvise(base + dropped, drop_to - dropped, MADV_DONTNEED);
      // From the start: the page cache drops only folios wholly inside the
      // range, and a large folio may straddle the last call's end. The
      // pages already gone cost the walk little.
      posix_fadvise(fd_, 0, static_cast<off_t>(drop_to), POSIX_FADV_DONTNEED);
      dropped = drop_to;
    }
    lock.lock();
  }
}

}  // namespace ckpt::internal
