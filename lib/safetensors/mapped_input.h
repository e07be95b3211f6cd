// safetensors/mapped_input: the file an import reads, mapped read-only.
//
// A small file (up to MappingWindows::whole_map_limit, 1 GiB) is populated
// whole up front: one system call instead of a page fault per 4 KiB. A
// larger one may exceed
// the memory the process may use (a 12 GiB checkpoint in a 2 GiB cgroup),
// where populating it whole would read it twice (the first pages evicted
// before the save reaches them). It is populated in windows instead: a
// thread keeps the next windows ahead of the save's progress populated and
// drops the pages the save has passed from the page cache, so the import
// holds a bounded window of the file, reads it once, and leaves the page
// cache as it found it, as a streaming copy would.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>

#include "ckpt/status.h"

namespace ckpt::internal {

// How a file is mapped: whole up to `whole_map_limit` bytes, else in
// windows of `window` bytes, `windows_ahead` of them populated ahead of the
// reader and pages more than two windows behind it dropped.
struct MappingWindows {
  uint64_t whole_map_limit = 1ull << 30;
  uint64_t window = 64ull << 20;
  uint64_t windows_ahead = 4;
};

class MappedInput {
 public:
  explicit MappedInput(MappingWindows windows = {}) : windows_(windows) {}
  MappedInput(const MappedInput&) = delete;
  MappedInput& operator=(const MappedInput&) = delete;
  ~MappedInput();

  // Maps regular file `path`. Errors: kNotFound, kInvalidArgument (not a
  // regular file), kIOError.
  Status Map(const std::string& path);

  const char* data() const { return static_cast<const char*>(data_); }
  size_t size() const { return size_; }

  // The reader has consumed the file up to about `offset`: windows ahead of
  // it are populated, pages well behind it dropped. Cheap; any thread.
  void Advance(uint64_t offset);

 private:
  void Populate();

  const MappingWindows windows_;
  void* data_ = nullptr;
  size_t size_ = 0;
  int fd_ = -1;
  std::mutex mu_;
  std::condition_variable moved_;
  uint64_t consumed_ = 0;
  bool stopping_ = false;
  std::thread populator_;
};

}  // namespace ckpt::internal
