// store/: the Store API over the layers below: open and config, save,
// load, refs, verify, repair. The only module that sees all of manifest,
// index, pack and backend; it decides the order of writes that makes a
// checkpoint durable before it is visible.
//
// Config object ("config" in the backend), UTF-8 text, one key=value a line:
//   ckpt-store
//   format_version=4
//   chunk_size=262144
//   zstd_level=3
//   delta_max_depth=1        (format 2 on; absent = 0, no deltas)
//   store_id=<32 hex digits>
// Format 3 has the same keys as format 2; see ckpt/version.h.
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
// Rewrites the config of an older format as kFormatVersion (see
// ckpt/version.h), atomically; the caller holds the store lock.
Status UpgradeConfig(Backend& backend, StoreConfig* config);
// Errors: kCorruption (malformed), kVersionMismatch (newer format).
Status DecodeConfig(const std::string& text, StoreConfig* out);

// Reads the config of the store in `backend`, or creates it from `options`
// when absent and options.create_if_missing; then `before_create` (if set)
// runs after the options are checked and before the config is written.
// Errors as Store::Open.
Result<StoreConfig> LoadOrCreateConfig(Backend& backend, const StoreOptions& options,
                                       const std::string& path,
                                       const std::function<Status()>& before_create = {});

}  // namespace ckpt::internal
