// store/store_context: what the parts of an open store share. Each
// operation (Saver, Loader, Verifier, ...) borrows it; none owns it.
#pragma once

#include <memory>
#include <mutex>
#include <string>

#include "ckpt/backend.h"
#include "ckpt/options.h"
#include "ckpt/store.h"
#include "index/index.h"
#include "manifest/manifest_codec.h"
#include "util/thread_pool.h"

namespace ckpt::internal {

struct StoreContext {
  std::string path;
  StoreOptions options;
  StoreConfig config;
  std::shared_ptr<Backend> backend;
  std::unique_ptr<Index> index;
  std::unique_ptr<ThreadPool> pool;
  // Serializes index commits that must check-then-write (RUN@STEP unique,
  // tags), so two saves in one process cannot both claim a step.
  std::mutex commit_mu;
  // One garbage collection at a time in this process.
  std::mutex gc_mu;
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
