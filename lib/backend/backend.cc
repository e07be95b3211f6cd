// The default bodies of Backend (ckpt/backend.h) that need more than a line.
#include "ckpt/backend.h"

#include <mutex>

#include "util/thread_pool.h"

namespace ckpt {

Status Backend::PutMany(const std::vector<NamedObject>& objects) {
  // Each Put mostly waits for its own durability: with many in flight the
  // storage commits them together.
  constexpr size_t kInFlight = 16;
  std::mutex mu;
  Status first_error;
  internal::ForEachOnThreads(objects.size(), kInFlight, [&](size_t i) {
    const NamedObject& o = objects[i];
    Status s = Put(o.name, o.bytes.data(), o.bytes.size());
    std::lock_guard<std::mutex> lock(mu);
    if (!s.ok() && first_error.ok()) first_error = s;
  });
  return first_error;
}

}  // namespace ckpt
