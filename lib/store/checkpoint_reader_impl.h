// store/checkpoint_reader_impl: one checkpoint and one index view, for
// reading many entries (CheckpointReader), and the code behind
// Store::LoadEntry and LoadRange.
#pragma once

#include <map>

#include "ckpt/checkpoint_reader.h"
#include "repo/loader.h"
#include "repo/store_context.h"

namespace ckpt::internal {

class CheckpointReaderImpl : public CheckpointReader {
 public:
  static Result<std::unique_ptr<CheckpointReaderImpl>> Open(StoreContext& ctx,
                                                            const std::string& ref);

  const CheckpointDetail& detail() const override { return detail_; }
  Status ReadEntry(const std::string& name, void* dst, size_t dst_size,
                   const LoadOptions& options) override;
  Status ReadRange(const std::string& name, uint64_t offset, uint64_t length, void* dst) override;
  Status ReadBox(const std::string& name, const std::vector<int64_t>& offsets,
                 const std::vector<int64_t>& shape, void* dst, size_t dst_size) override;
  Status ReadEntries(const std::vector<EntryBuffer>& buffers, const LoadOptions& options) override;
  Status StreamEntries(const std::vector<std::string>& names, const PieceSink& sink,
                       const LoadOptions& options) override;

 private:
  CheckpointReaderImpl(StoreContext& ctx, std::unique_ptr<Index> index)
      : ctx_(ctx), index_(std::move(index)) {}
  Result<const EntryView*> Find(const std::string& name) const;
  Status Read(const std::vector<PartRead>& parts, const std::vector<uint8_t*>& dsts,
              const PieceSink& sink, const ProgressFn& progress);

  StoreContext& ctx_;
  std::unique_ptr<Index> index_;
  ResolvedCheckpoint checkpoint_;
  CheckpointDetail detail_;
  std::vector<EntryView> views_;  // the entries as readers name them
  std::map<std::string, size_t, std::less<>> by_name_;
};

}  // namespace ckpt::internal
