// mount/mount_fs: the read-only file system `ckpt mount` serves, apart from
// FUSE, so that it can be tested without a kernel mount. Layout (paths
// relative to the mount point; names escaped as in file_names.h):
//
//   runs/RUN/STEP/model.safetensors    byte-identical to `ckpt export`
//   runs/RUN/STEP/meta.json            metadata, metrics, sizes, entry files
//   runs/RUN/STEP/tensors/NAME.npy     one NumPy array per tensor
//   runs/RUN/STEP/blobs/NAME           one raw file per blob
//   runs/RUN/latest -> STEP            symlink to the run's highest step
//   tags/TAG -> ../runs/RUN/STEP       symlink per tag
//
// Thread-safety: safe to use from many threads at once.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "ckpt/result.h"
#include "ckpt/store.h"
#include "mount/block_cache.h"
#include "mount/checkpoint_files.h"
#include "mount/prefetcher.h"
#include "mount/store_tree.h"

namespace ckpt::mount {

struct MountOptions {
  // Verified bytes kept in memory for reads to come.
  uint64_t cache_bytes = 256ull << 20;
  // How old the listing of runs, checkpoints and tags may get before a
  // lookup lists the store again.
  std::chrono::milliseconds refresh = std::chrono::seconds(1);
  // How far ahead of a file read front to back the chunks are decoded, on
  // `prefetch_threads` threads, while the reader consumes the ones before
  // (at most a quarter of cache_bytes). 0: no read-ahead.
  uint64_t readahead_bytes = 8ull << 20;
  unsigned prefetch_threads = 2;
  // Receives a line for every read that fails (corruption, a lost pack).
  std::function<void(const std::string&)> log;
};

enum class NodeKind { kDirectory, kFile, kSymlink };

struct NodeAttr {
  NodeKind kind = NodeKind::kDirectory;
  uint64_t size = 0;     // bytes of a file or of a symlink's target
  int64_t mtime_ns = 0;  // the checkpoint's save time; for a run, its latest
};

struct DirEntry {
  std::string name;
  NodeKind kind = NodeKind::kDirectory;
};

// An open file: it pins its checkpoint's files for as long as it is open.
struct OpenFile {
  std::shared_ptr<CheckpointFiles> files;
  const VirtualFile* file = nullptr;
  std::string path;
  // Where a sequential reader will read next, and how far the read-ahead
  // has been started (several threads may read one open file: advisory).
  std::atomic<uint64_t> next_offset{0};
  std::atomic<uint64_t> prefetched_to{0};
};

class MountFs {
 public:
  // REQUIRES: `store` outlives this.
  MountFs(Store& store, MountOptions options);

  // Errors: kNotFound for a path that names nothing; others as the store's.
  Result<NodeAttr> GetAttr(std::string_view path);
  // The attributes of an open file. They outlive its path: the checkpoint
  // may be removed, and leave the listing, while the file is open.
  static NodeAttr GetAttr(const OpenFile& file);
  Result<std::vector<DirEntry>> ReadDir(std::string_view path);
  Result<std::string> ReadLink(std::string_view path);
  // The handle stays valid until Close, or until this is destroyed: a mount
  // ended by a signal may never see its open files released.
  Result<OpenFile*> Open(std::string_view path);
  // Ends what Open began; `file` is invalid after.
  void Close(OpenFile* file);

  // Reads up to `size` bytes at `offset`; short only at the end of the
  // file. A failed read is also logged (options.log) with the file's path.
  Result<size_t> Read(OpenFile& file, uint64_t offset, size_t size, char* dst);

  BlockCache::Stats cache_stats() const { return cache_.stats(); }

 private:
  struct Location;
  Result<Location> Resolve(std::string_view path);
  Result<std::shared_ptr<CheckpointFiles>> FilesOf(const CheckpointInfo& info);
  void ReadAhead(OpenFile& file, uint64_t offset, size_t size);

  Store& store_;
  MountOptions options_;
  BlockCache cache_;
  StoreTree tree_;
  const int64_t mounted_at_ns_;
  std::mutex files_mu_;
  // The files of recently used checkpoints, most recent last (open files
  // keep theirs alive on their own).
  std::vector<std::shared_ptr<CheckpointFiles>> recent_files_;
  // The paths of open files, each with its count of opens and attributes:
  // a path keeps resolving while a file is open under it, as an unlinked
  // file's inode does (the kernel looks an open file up by path, fstat).
  struct OpenPath {
    size_t opens = 0;
    NodeAttr attr;
  };
  std::map<std::string, OpenPath, std::less<>> open_paths_;
  // Every open file, owned here: FUSE holds only the handle.
  std::map<const OpenFile*, std::unique_ptr<OpenFile>> open_files_;
  // Last: its tasks use the cache and the files, so it stops first.
  Prefetcher prefetcher_;
};

}  // namespace ckpt::mount
