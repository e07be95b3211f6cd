// gc/pack_deleter: the file half of the sweep. Deletes pack files that the
// index stopped using at least a grace period ago (condemned), and pack
// files no index entry ever named that are older than the grace period
// (left by saves that crashed or failed before their commit). The grace
// period protects loads and saves in flight that still read those files.
// The unlinks are not synced: a pack whose file a crash brings back has a
// 'G' key and goes at the next gc, and the tombstones it guards stay until
// that next gc has made its deletion durable.
#pragma once

#include <mutex>
#include <string>
#include <thread>
#include <unordered_set>
#include <vector>

#include "repo/store_context.h"

namespace ckpt::internal {

// Unlinks pack files on threads of its own, so that gc's index work goes on
// meanwhile: an unlink mostly waits for the file system to free the file's
// blocks. Only files whose deletion the index already recorded ('G' keys)
// are handed to it.
class PackUnlinker {
 public:
  explicit PackUnlinker(StoreContext& ctx) : ctx_(ctx) {}
  PackUnlinker(const PackUnlinker&) = delete;
  PackUnlinker& operator=(const PackUnlinker&) = delete;
  ~PackUnlinker() { (void)Wait(); }

  // Starts unlinking the objects `names`, unsynced.
  void Start(std::vector<std::string> names);
  // Whether `name` was handed over by Start.
  bool Started(const std::string& name) const;
  // Waits for every unlink started; returns the first error.
  Status Wait();

 private:
  StoreContext& ctx_;
  mutable std::mutex mu_;
  std::unordered_set<std::string> started_;
  std::vector<std::thread> threads_;
  Status error_;
};

struct DeleteResult {
  uint64_t packs_deleted = 0;
  uint64_t orphans_deleted = 0;
  uint64_t bytes_deleted = 0;
  uint64_t packs_pending = 0;
  uint64_t abandoned_deleted = 0;  // partial files of interrupted writes
  uint64_t abandoned_bytes_deleted = 0;
};

// Deletes the packs condemned at least `grace_seconds` before `now_ns`: the
// index forgets them, then `unlinker` unlinks their files. With
// `confirm_earlier`, first makes the deletions of an earlier gc durable and
// retires the tombstones they guarded (do this once per gc, before any
// Start of this one: it syncs what it confirms).
Status DeleteDuePacks(StoreContext& ctx, int64_t grace_seconds, int64_t now_ns,
                      bool confirm_earlier, PackUnlinker* unlinker, DeleteResult* result);

// Deletes pack files no index entry names that are older than the grace
// period (saves that crashed before their commit), skipping those handed
// to `unlinker`, and partial files of interrupted writes.
Status DeleteLeftovers(StoreContext& ctx, int64_t grace_seconds, int64_t now_ns,
                       const PackUnlinker& unlinker, DeleteResult* result);

}  // namespace ckpt::internal
