// util/aligned_buffer: a byte buffer whose storage starts on a 4 KiB
// boundary, so that the local backend can write it with O_DIRECT straight
// from memory, with no copy through a bounce buffer. Grows like a string;
// its capacity survives clear(), so a buffer reused for the next pack costs
// no page faults. Buffers of 2 MiB and more live in huge pages
// (util/large_region.h), which cut the cost of first writes ~5x.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <new>
#include <string_view>

#include "util/large_region.h"

namespace ckpt::internal {

class AlignedBuffer {
 public:
  static constexpr size_t kAlignment = 4096;

  AlignedBuffer() = default;
  ~AlignedBuffer() { Release(data_, capacity_); }
  AlignedBuffer(AlignedBuffer&& other) noexcept
      : data_(other.data_), size_(other.size_), capacity_(other.capacity_) {
    other.data_ = nullptr;
    other.size_ = other.capacity_ = 0;
  }
  AlignedBuffer& operator=(AlignedBuffer&& other) noexcept {
    if (this != &other) {
      Release(data_, capacity_);
      data_ = other.data_;
      size_ = other.size_;
      capacity_ = other.capacity_;
      other.data_ = nullptr;
      other.size_ = other.capacity_ = 0;
    }
    return *this;
  }
  AlignedBuffer(const AlignedBuffer&) = delete;
  AlignedBuffer& operator=(const AlignedBuffer&) = delete;

  const char* data() const { return data_; }
  char* data() { return data_; }
  size_t size() const { return size_; }
  size_t capacity() const { return capacity_; }
  std::string_view view() const { return {data_, size_}; }

  // Empties the buffer and keeps its memory.
  void clear() { size_ = 0; }

  // Makes room for `capacity` bytes in all, keeping the contents.
  void reserve(size_t capacity) {
    if (capacity <= capacity_) return;
    size_t rounded = (capacity + kAlignment - 1) / kAlignment * kAlignment;
    char* p = Allocate(&rounded);
    if (size_ > 0) std::memcpy(p, data_, size_);
    Release(data_, capacity_);
    data_ = p;
    capacity_ = rounded;
  }

  // Sets the size to `n`, growing as reserve() does; bytes past the old
  // size are not initialised (the caller writes them through data()).
  void resize_uninitialized(size_t n) {
    reserve(n);
    size_ = n;
  }

  void append(const void* bytes, size_t n) {
    if (size_ + n > capacity_) reserve(std::max(size_ + n, capacity_ * 2));
    if (n > 0) std::memcpy(data_ + size_, bytes, n);
    size_ += n;
  }
  void append(std::string_view bytes) { append(bytes.data(), bytes.size()); }

 private:
  // Capacities from kHugePageSize up are whole huge pages, mapped; smaller
  // ones come from the heap. `capacity` is rounded up to what it gets.
  static char* Allocate(size_t* capacity) {
    if (*capacity >= kHugePageSize) {
      void* p = MapLargeRegion(*capacity, /*noreserve=*/false, capacity);
      if (p == nullptr) throw std::bad_alloc();
      return static_cast<char*>(p);
    }
    void* p = nullptr;
    if (posix_memalign(&p, kAlignment, *capacity) != 0) throw std::bad_alloc();
    return static_cast<char*>(p);
  }
  static void Release(char* data, size_t capacity) {
    if (capacity >= kHugePageSize) {
      UnmapLargeRegion(data, capacity);
    } else {
      std::free(data);
    }
  }

  char* data_ = nullptr;
  size_t size_ = 0;
  size_t capacity_ = 0;
};

}  // namespace ckpt::internal
