// util/large_region: see large_region.h.
#include "util/large_region.h"

#include <sys/mman.h>

#include <cstdint>

namespace ckpt::internal {

void* MapLargeRegion(size_t bytes, bool noreserve, size_t* mapped) {
  const size_t length = (bytes + kHugePageSize - 1) / kHugePageSize * kHugePageSize;
  if (length == 0) return nullptr;
  // mmap promises only 4 KiB alignment: map one huge page more and trim, so
  // every 2 MiB of the region can be one huge page.
  const size_t padded = length + kHugePageSize;
  const int flags = MAP_PRIVATE | MAP_ANONYMOUS | (noreserve ? MAP_NORESERVE : 0);
  void* p = mmap(nullptr, padded, PROT_READ | PROT_WRITE, flags, -1, 0);
  if (p == MAP_FAILED) return nullptr;
  const uintptr_t start = reinterpret_cast<uintptr_t>(p);
  const uintptr_t aligned = (start + kHugePageSize - 1) / kHugePageSize * kHugePageSize;
  const size_t head = aligned - start, tail = padded - head - length;
  if (head > 0) munmap(p, head);
  if (tail > 0) munmap(reinterpret_cast<void*>(aligned + length), tail);
  void* region = reinterpret_cast<void*>(aligned);
  (void)madvise(region, length, MADV_HUGEPAGE);
  *mapped = length;
  return region;
}

void UnmapLargeRegion(void* region, size_t mapped) {
  if (region != nullptr) munmap(region, mapped);
}

void PopulateLargeRegion(const void* p, size_t bytes) {
#ifdef MADV_POPULATE_WRITE
  // Only a hint: an older kernel refuses it (EINVAL), and the writes then
  // fault the pages in as before.
  (void)madvise(const_cast<void*>(p), bytes, MADV_POPULATE_WRITE);
#else
  (void)p;
  (void)bytes;
#endif
}

}  // namespace ckpt::internal
