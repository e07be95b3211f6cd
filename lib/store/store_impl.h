// store/store_impl: the Store behind the public interface. Thin: each call
// resolves refs and hands off to saver, async saver, loader, verifier or
// the index.
#pragma once

#include <atomic>
#include <thread>

#include "repo/store_context.h"
#include "store/async_saver.h"

namespace ckpt::internal {

class StoreImpl : public Store {
 public:
  explicit StoreImpl(std::unique_ptr<StoreContext> ctx) : ctx_(std::move(ctx)) {}
  ~StoreImpl() override;

  const StoreConfig& config() const override { return ctx_->config; }
  Result<CheckpointInfo> Save(const SaveRequest& request, const SaveOptions& options) override;
  Result<SaveHandle> SaveAsync(const SaveRequest& request, const SaveOptions& options) override;
  Result<CheckpointInfo> Resolve(const std::string& ref) override;
  Result<CheckpointDetail> Describe(const std::string& ref) override;
  Result<LoadedCheckpoint> Load(const std::string& ref, const LoadOptions& options) override;
  Result<std::unique_ptr<CheckpointReader>> OpenCheckpoint(const std::string& ref) override;
  Status LoadEntry(const std::string& ref, const std::string& name, void* dst, size_t dst_size,
                   const LoadOptions& options) override;
  Status LoadRange(const std::string& ref, const std::string& name, uint64_t offset,
                   uint64_t length, void* dst) override;
  Status LoadBox(const std::string& ref, const std::string& name,
                 const std::vector<int64_t>& offsets, const std::vector<int64_t>& shape, void* dst,
                 size_t dst_size) override;
  Result<std::vector<RunInfo>> ListRuns() override;
  Result<std::vector<CheckpointInfo>> ListCheckpoints(const std::string& run) override;
  Status Tag(const std::string& ref, const std::string& tag) override;
  Status Untag(const std::string& tag) override;
  Status Delete(const std::string& ref) override;
  Result<VerifyReport> Verify(const VerifyOptions& options) override;
  Result<StoreStats> Stats() override;
  StoreCounters Counters() const override;
  Status SetPolicy(const std::string& run, const RetentionPolicy& policy) override;
  Status UnsetPolicy(const std::string& run) override;
  Result<RetentionPolicy> GetPolicy(const std::string& run) override;
  Result<std::vector<std::pair<std::string, RetentionPolicy>>> ListPolicies() override;
  Result<GcReport> Gc(const GcOptions& options) override;

 private:
  Status RequireWritable(const std::string& what) const;
  Result<std::vector<RunInfo>> ListRunsIn(Index& index);

  void MaybeStartAutoGc();

  std::unique_ptr<StoreContext> ctx_;
  // SaveAsync's staging and thread, made by its first call.
  std::mutex async_mu_;
  std::unique_ptr<AsyncSaver> async_;
  // Background gc (StoreOptions::gc_every_saves).
  mutable std::mutex auto_gc_mu_;
  std::thread auto_gc_;
  std::atomic<bool> auto_gc_running_{false};
  uint64_t saves_since_gc_ = 0;
  uint64_t auto_gc_runs_ = 0;
  uint64_t auto_gc_failures_ = 0;
  std::string last_auto_gc_error_;
};

}  // namespace ckpt::internal
