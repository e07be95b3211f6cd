// backend/: where bytes rest. LocalBackend keeps each object as a file below
// a root directory; its Put is atomic and durable (temp file, fsync, rename,
// fsync of the directory). Uses only the OS and Boost.Filesystem; knows
// nothing of packs or chunks.
#pragma once

#include <string>
#include <vector>

#include "ckpt/backend.h"

namespace ckpt::internal {

class LocalBackend : public Backend {
 public:
  explicit LocalBackend(std::string root) : root_(std::move(root)) {}

  Status Put(const std::string& name, const void* data, size_t size) override;
  Status PutMany(const std::vector<NamedObject>& objects) override;
  Status Create(const std::string& name, const void* data, size_t size) override;
  Status Get(const std::string& name, uint64_t offset, size_t length, void* dst) override;
  Result<uint64_t> Size(const std::string& name) override;
  Result<std::vector<std::string>> List(const std::string& prefix) override;
  Status Remove(const std::string& name) override;
  Status RemoveMany(const std::vector<std::string>& names) override;
  Status RemoveManyUnsynced(const std::vector<std::string>& names) override;
  Result<int64_t> ModifiedTimeNs(const std::string& name) override;
  Result<AbandonedWrites> RemoveAbandonedWrites(const std::string& prefix,
                                                int64_t written_before_ns) override;
  std::string Describe() const override { return "local:" + root_; }

 private:
  std::string PathOf(const std::string& name) const { return root_ + "/" + name; }
  Status EnsureParentDir(const std::string& path);
  // Writes a new temporary file in the directory of `path`, fsynced if
  // `sync`.
  Result<std::string> WriteTemp(const std::string& path, const void* data, size_t size,
                                bool sync = true);

  std::string root_;
};

// Maps errno to a Status code: ENOSPC/EDQUOT -> kNoSpace, ENOENT -> kNotFound,
// anything else -> kIOError; the message is "<what> <path>: <strerror>".
Status ErrnoStatus(int err, const std::string& what, const std::string& path);

// fsyncs directory `dir` so that a rename or unlink inside it is durable.
Status SyncDirectory(const std::string& dir);

}  // namespace ckpt::internal
