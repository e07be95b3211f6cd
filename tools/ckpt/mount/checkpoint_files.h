// mount/checkpoint_files: the files of one mounted checkpoint and the reads
// that serve them.
//
// A checkpoint directory holds model.safetensors (byte-identical to what
// `ckpt export` writes: the same header, each tensor at the same offset),
// meta.json, tensors/NAME.npy for every tensor and blobs/NAME for every
// blob (names escaped as in file_names.h). Every file is a literal prefix
// (a header, or all of meta.json) followed by ranges of the checkpoint's
// entries; a read copies from the prefix and reads only the blocks of the
// entries it covers, through the shared BlockCache. A block is one chunk of
// the entry (the store's chunk size in whole elements), so a read decodes
// exactly the chunks it touches, each checked against its hash.
//
// Thread-safety: safe to use from many threads at once. The files pin one
// checkpoint: they stay readable after the checkpoint is deleted until gc
// reclaims its chunks (one grace period later).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "ckpt/checkpoint_reader.h"
#include "ckpt/result.h"
#include "ckpt/store.h"
#include "mount/block_cache.h"

namespace ckpt::mount {

// A range of an entry placed in a file.
struct EntrySpan {
  size_t entry = 0;          // index into the checkpoint's entries
  uint64_t file_offset = 0;  // where the range starts in the file
  uint64_t length = 0;
};

// One read-only file: `prefix`, then `spans` back to back.
struct VirtualFile {
  std::string prefix;
  std::vector<EntrySpan> spans;  // by ascending file_offset, contiguous
  uint64_t size = 0;
};

class CheckpointFiles : public std::enable_shared_from_this<CheckpointFiles> {
 public:
  // Pins checkpoint `id` of `store` and lays out its files. Reads at most
  // the stored safetensors header. REQUIRES: store and cache outlive this.
  static Result<std::shared_ptr<CheckpointFiles>> Open(Store& store, const std::string& id,
                                                       BlockCache& cache);

  const CheckpointDetail& detail() const { return reader_->detail(); }

  // The file at `relative_path` ("model.safetensors", "tensors/x.npy"), or
  // null.
  const VirtualFile* Find(std::string_view relative_path) const;

  // File names in subdirectory "tensors" or "blobs", sorted.
  const std::vector<std::string>& TensorFiles() const { return tensor_files_; }
  const std::vector<std::string>& BlobFiles() const { return blob_files_; }

  // Reads up to `size` bytes of `file` from `offset` into `dst`; returns the
  // count (short only at the end of the file). Errors name the checkpoint
  // and entry: kCorruption for bytes that fail their hash, kNotFound or
  // kIOError for a pack that is gone or unreadable.
  Result<size_t> Read(const VirtualFile& file, uint64_t offset, size_t size, char* dst);

  // Starts reading the blocks of bytes [offset, offset+length) of `file`
  // into the cache through `run`, for reads to come (see
  // BlockCache::Prefetch). The tasks keep these files alive.
  void Prefetch(const VirtualFile& file, uint64_t offset, uint64_t length,
                const std::function<void(std::function<void()>)>& run);

 private:
  CheckpointFiles(std::unique_ptr<CheckpointReader> reader, uint32_t chunk_size, BlockCache& cache)
      : reader_(std::move(reader)), chunk_size_(chunk_size), cache_(cache) {}
  Status LayOut();
  Status ReadEntry(size_t entry, uint64_t offset, uint64_t length, char* dst);
  // Calls `visit(entry, entry_offset, length, dst_offset)` for each entry
  // range that bytes [offset, offset+length) of `file` cover.
  template <typename Visit>
  Status ForEachSpan(const VirtualFile& file, uint64_t offset, uint64_t length, Visit visit);
  std::string BlockKey(size_t entry, uint64_t block) const;
  BlockCache::Loader BlockLoader(size_t entry, uint64_t block) const;

  std::unique_ptr<CheckpointReader> reader_;
  uint32_t chunk_size_;
  BlockCache& cache_;
  std::map<std::string, VirtualFile, std::less<>> files_;
  std::vector<std::string> tensor_files_;
  std::vector<std::string> blob_files_;
};

// meta.json of a checkpoint: what `ckpt show --json` tells, plus the file
// each entry appears as.
std::string MetaJson(const CheckpointDetail& detail, const std::vector<std::string>& entry_files);

}  // namespace ckpt::mount
