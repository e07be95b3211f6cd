// repo/config: the store's config object, read at every open.
//
// Config object ("config" in the backend), UTF-8 text, one key=value a line:
//   ckpt-store
//   format_version=6
//   chunk_size=262144
//   zstd_level=3
//   delta_max_depth=1
//   store_id=<32 hex digits>
// See docs/format.md ("Config").
#pragma once

#include <functional>
#include <string>

#include "ckpt/backend.h"
#include "ckpt/options.h"
#include "ckpt/store.h"

namespace ckpt::internal {

inline constexpr const char* kConfigObject = "config";
// Upper bound of StoreOptions::delta_max_depth: a load decodes at most this
// many bases before a chunk.
inline constexpr int kMaxDeltaDepth = 16;

std::string EncodeConfig(const StoreConfig& config);
// Errors: kCorruption (malformed), kVersionMismatch (a format outside
// kOldestFormatVersion .. kFormatVersion).
Status DecodeConfig(const std::string& text, StoreConfig* out);

// The first store format with sharded checkpoints, and the first with
// shards staged as objects (a store in object storage).
inline constexpr int kShardedFormatVersion = 5;
inline constexpr int kStagedShardsFormatVersion = 6;

// Raises the store's config to `version` if it is older (the config object
// is replaced atomically), before a sharded save writes what an older
// library would misread: its gc would not see pending or staged shards.
Status UpgradeConfigForShards(Backend& backend, const std::string& path, int version);

// Reads the config of the store in `backend`, or creates it from `options`
// when absent and options.create_if_missing; then `before_create` (if set)
// runs after the options are checked and before the config is written.
// Errors as Store::Open.
Result<StoreConfig> LoadOrCreateConfig(Backend& backend, const StoreOptions& options,
                                       const std::string& path,
                                       const std::function<Status()>& before_create = {});

}  // namespace ckpt::internal
