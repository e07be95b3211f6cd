// mount/store_tree: the runs, checkpoints and tags of a store as the mount
// shows them, listed again when the last listing is older than a set age,
// so new checkpoints appear and removed ones disappear without a remount.
//
// Thread-safety: safe to use from many threads at once.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "ckpt/manifest.h"
#include "ckpt/result.h"
#include "ckpt/store.h"

namespace ckpt::mount {

struct RunNode {
  std::string name;                          // the run's own name
  std::map<uint64_t, CheckpointInfo> steps;  // by step
  int64_t latest_wall_time_ns = 0;
};

struct TagNode {
  std::string run_file;  // the escaped run name, as under runs/
  uint64_t step = 0;
};

// One listing of the store, by file name (escaped, file_names.h).
struct TreeSnapshot {
  std::map<std::string, RunNode> runs;
  std::map<std::string, TagNode> tags;
  int64_t newest_wall_time_ns = 0;
};

class StoreTree {
 public:
  // REQUIRES: `store` outlives this.
  StoreTree(Store& store, std::chrono::milliseconds max_age) : store_(store), max_age_(max_age) {}

  // The current listing: the last one if younger than max_age, else a new
  // one. A failed listing returns its error and keeps the last one.
  Result<std::shared_ptr<const TreeSnapshot>> Current();

 private:
  Result<std::shared_ptr<const TreeSnapshot>> List();

  Store& store_;
  const std::chrono::milliseconds max_age_;
  std::mutex mu_;
  std::shared_ptr<const TreeSnapshot> snapshot_;
  std::chrono::steady_clock::time_point taken_;
};

}  // namespace ckpt::mount
