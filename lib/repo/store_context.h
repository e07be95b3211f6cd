// repo/store_context: what the parts of an open store share. Each
// operation (Saver, Loader, Verifier, ...) borrows it; none owns it.
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <string>

#include "ckpt/backend.h"
#include "ckpt/options.h"
#include "ckpt/store.h"
#include "index/index.h"
#include "manifest/manifest_codec.h"
#include "repo/in_flight_packs.h"
#include "util/thread_pool.h"

namespace ckpt::internal {

inline std::string IndexDirOf(const std::string& store_path) { return store_path + "/index"; }

struct StoreContext {
  // The store's directory; for a store in object storage the directory of
  // this host's copy of the index (its cache), and `location` the URL.
  std::string path;
  std::string location;
  // A store in object storage: writer sessions hold the bucket's index
  // lease and append their commits to its index log (repo/index_log.h);
  // every session first catches up with that log.
  bool shared_index = false;
  StoreOptions options;
  StoreConfig config;
  std::shared_ptr<Backend> backend;
  std::unique_ptr<ThreadPool> pool;
  // Serializes this process's writer sessions (index_sessions.h); the store
  // lock does the same across processes.
  std::mutex commit_mu;
  // One garbage collection at a time in this process.
  std::mutex gc_mu;
  // Packs of this process's saves that are not committed yet.
  InFlightPacks in_flight_packs;

  std::atomic<uint64_t> saves{0};
  std::atomic<uint64_t> writer_sessions{0};
  std::atomic<uint64_t> lock_wait_total_us{0};
  std::atomic<uint64_t> lock_wait_max_us{0};
  std::atomic<uint64_t> chunks_rewritten_after_gc{0};

  std::string index_dir() const { return IndexDirOf(path); }
  std::chrono::milliseconds lock_timeout() const {
    return std::chrono::milliseconds(options.lock_timeout_ms);
  }
};

// A resolved checkpoint: its id, index record and decoded manifest.
struct ResolvedCheckpoint {
  Digest id;
  CheckpointRecord record;
  Manifest manifest;
  // "run@step", for messages.
  std::string Label() const { return manifest.run + "@" + std::to_string(manifest.step); }
};

// Backend names of refs that live beside the packs, so that repair can
// restore tags and honour deletions without the index.
inline std::string TagRefName(const std::string& tag) { return "refs/tags/" + tag; }
inline std::string DeletedRefName(const std::string& id_hex) { return "refs/deleted/" + id_hex; }

}  // namespace ckpt::internal
