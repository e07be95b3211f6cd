// util/large_region: anonymous memory for buffers of megabytes, mapped on a
// 2 MiB boundary and marked for transparent huge pages. On the VMs measured
// here a first write to fresh memory costs ~3.3 ms per MiB in 4 KiB page
// faults and ~0.6 ms per MiB in huge pages (docs/design.md, "Saving").
#pragma once

#include <cstddef>

namespace ckpt::internal {

// Size of a transparent huge page on x86-64 and arm64 (4 KiB base pages).
inline constexpr size_t kHugePageSize = size_t{2} << 20;

// Maps at least `bytes` bytes (rounded up to kHugePageSize) of zeroed memory
// starting on a kHugePageSize boundary, and asks for huge pages, a hint the
// kernel may ignore. `noreserve` maps without committing swap space, for
// ranges most of which may never be touched. Returns nullptr when `bytes`
// is 0 or the kernel refuses (then with errno set); on success stores the
// mapped length in `mapped`.
void* MapLargeRegion(size_t bytes, bool noreserve, size_t* mapped);

// Unmaps a region from MapLargeRegion; `mapped` is the length it stored.
void UnmapLargeRegion(void* region, size_t mapped);

// Faults in the pages of [p, p + bytes), page-aligned anonymous memory
// such as a region from MapLargeRegion, without changing its contents (MADV_POPULATE_WRITE, Linux
// 5.14 and later; elsewhere nothing happens), so that later writes there
// take no page fault. Safe while other threads write into the range.
void PopulateLargeRegion(const void* p, size_t bytes);

}  // namespace ckpt::internal
