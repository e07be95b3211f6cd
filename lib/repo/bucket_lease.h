// repo/bucket_lease: mutual exclusion between hosts that share a store in
// object storage, as an object ("locks/index", "locks/gc") created only if
// absent and holding its holder and expiry. A lease whose expiry has passed
// (its holder crashed or hung) is taken over. A lease is not a fence by
// itself: what keeps two writers from committing over each other is the
// index log (repo/index_log.h), whose records are created only if absent;
// the lease makes them take turns instead of failing.
#pragma once

#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "ckpt/backend.h"
#include "ckpt/result.h"

namespace ckpt::internal {

// The lease of writer sessions on a shared index.
inline constexpr const char* kIndexLeaseName = "locks/index";
// The lease of a whole garbage collection: one gc at a time per bucket.
inline constexpr const char* kGcLeaseName = "locks/gc";

class BucketLease {
 public:
  // Takes lease `name`, waiting up to `timeout` while another holder's
  // unexpired lease stands. The lease expires `ttl` after it was taken;
  // with `keep_alive`, a thread renews it every ttl/3 until it is released,
  // for holders that may run longer than `ttl` (a gc).
  // Errors: kBusy (naming the holder and its expiry), the backend's.
  static Result<std::unique_ptr<BucketLease>> Acquire(std::shared_ptr<Backend> backend,
                                                      const std::string& name,
                                                      std::chrono::milliseconds ttl,
                                                      std::chrono::milliseconds timeout,
                                                      bool keep_alive = false);
  // Releases the lease if this holder still has it.
  ~BucketLease();
  BucketLease(const BucketLease&) = delete;
  BucketLease& operator=(const BucketLease&) = delete;

  // Releases now; the error, if any, is the backend's.
  Status Release();
  const std::string& holder() const { return holder_; }

 private:
  BucketLease(std::shared_ptr<Backend> backend, std::string name, std::string holder)
      : backend_(std::move(backend)), name_(std::move(name)), holder_(std::move(holder)) {}
  void KeepAlive(std::chrono::milliseconds ttl);
  void StopKeepAlive();

  std::shared_ptr<Backend> backend_;
  std::string name_;
  std::string holder_;
  bool released_ = false;
  std::mutex mu_;
  std::condition_variable stop_cv_;
  bool stop_ = false;
  std::thread renewer_;
};

}  // namespace ckpt::internal
