// util/clock: wall-clock time as stored in the index and manifests.
#pragma once

#include <chrono>
#include <cstdint>

namespace ckpt::internal {

inline constexpr int64_t kNsPerSecond = 1000000000;

// Wall-clock time in ns since the Unix epoch.
inline int64_t NowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace ckpt::internal
