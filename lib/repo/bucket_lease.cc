#include "repo/bucket_lease.h"

#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <thread>

#include "util/hex.h"

namespace ckpt::internal {

namespace {

int64_t NowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string NewHolderId() {
  char host[256] = {};
  if (::gethostname(host, sizeof host - 1) != 0) host[0] = '\0';
  return std::string(host[0] ? host : "unknown") + ":" + std::to_string(::getpid()) + ":" +
         RandomHexId(4);
}

// "ckpt-lease\nholder=H\nexpires_ns=N\n"
std::string EncodeLease(const std::string& holder, int64_t expires_ns) {
  return "ckpt-lease\nholder=" + holder + "\nexpires_ns=" + std::to_string(expires_ns) + "\n";
}

struct LeaseBody {
  std::string holder;
  int64_t expires_ns = 0;
};

// A lease that cannot be parsed counts as expired long ago, so that a
// damaged lease object cannot lock a store forever.
LeaseBody DecodeLease(const std::string& text) {
  LeaseBody body;
  size_t h = text.find("\nholder=");
  size_t e = text.find("\nexpires_ns=");
  if (text.rfind("ckpt-lease\n", 0) != 0 || h == std::string::npos || e == std::string::npos) {
    return body;
  }
  body.holder = text.substr(h + 8, text.find('\n', h + 8) - h - 8);
  body.expires_ns = std::strtoll(text.c_str() + e + 12, nullptr, 10);
  return body;
}

}  // namespace

Result<std::unique_ptr<BucketLease>> BucketLease::Acquire(std::shared_ptr<Backend> backend,
                                                          const std::string& name,
                                                          std::chrono::milliseconds ttl,
                                                          std::chrono::milliseconds timeout,
                                                          bool keep_alive) {
  const std::string holder = NewHolderId();
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  auto pause = std::chrono::milliseconds(5);
  LeaseBody current;
  for (;;) {
    const std::string body = EncodeLease(holder, NowNs() + ttl.count() * 1000000);
    Status s = backend->Create(name, body.data(), body.size());
    if (s.ok()) {
      std::unique_ptr<BucketLease> lease(new BucketLease(backend, name, holder));
      if (keep_alive) lease->KeepAlive(ttl);
      return lease;
    }
    if (s.code() != Code::kAlreadyExists) return s.WithContext("take lease " + name);
    Result<std::string> text = backend->GetWhole(name);
    if (text.status().code() == Code::kNotFound) continue;  // released meanwhile
    if (!text.ok()) return text.status().WithContext("read lease " + name);
    current = DecodeLease(*text);
    if (current.expires_ns < NowNs()) {
      // Its holder is gone or hung: take it over. Two hosts may both get
      // here; the index log still lets only one of them commit.
      CKPT_RETURN_IF_ERROR(backend->Remove(name).WithContext("take over expired lease " + name));
      continue;
    }
    if (std::chrono::steady_clock::now() + pause > deadline) {
      return Status::Busy(backend->Describe() + "/" + name + " is held by " + current.holder +
                          " for another " +
                          std::to_string((current.expires_ns - NowNs()) / 1000000) + " ms");
    }
    std::this_thread::sleep_for(pause);
    pause = std::min(pause * 2, std::chrono::milliseconds(200));
  }
}

void BucketLease::KeepAlive(std::chrono::milliseconds ttl) {
  renewer_ = std::thread([this, ttl] {
    std::unique_lock<std::mutex> lock(mu_);
    while (!stop_cv_.wait_for(lock, ttl / 3, [this] { return stop_; })) {
      lock.unlock();
      // Renewed only while still ours; a failed renewal is tried again at
      // the next turn (the index log, not the lease, keeps commits safe).
      Result<std::string> text = backend_->GetWhole(name_);
      if (text.ok() && DecodeLease(*text).holder == holder_) {
        const std::string body = EncodeLease(holder_, NowNs() + ttl.count() * 1000000);
        (void)backend_->Put(name_, body.data(), body.size());
      }
      lock.lock();
    }
  });
}

void BucketLease::StopKeepAlive() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  stop_cv_.notify_all();
  if (renewer_.joinable()) renewer_.join();
}

Status BucketLease::Release() {
  StopKeepAlive();
  if (released_) return Status::OK();
  released_ = true;
  // Only our own: after an expiry another host may hold it now.
  Result<std::string> text = backend_->GetWhole(name_);
  if (text.status().code() == Code::kNotFound) return Status::OK();
  if (!text.ok()) return text.status().WithContext("release lease " + name_);
  if (DecodeLease(*text).holder != holder_) return Status::OK();
  return backend_->Remove(name_).WithContext("release lease " + name_);
}

BucketLease::~BucketLease() { (void)Release(); }

}  // namespace ckpt::internal
