// ckpt/options.h: options of a store and of its operations.
//
// Plain structs with defaults. Fields marked "persisted" are fixed when a
// store is created and read back from it on every open; the value given at
// open time is then ignored.
//
// Thread-safety: plain values. Stability: stable; fields may be added.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

namespace ckpt {

class Backend;

// Called with (units done, units total) as long work progresses; units are
// bytes for save, load and verify. Called from one thread at a time.
using ProgressFn = std::function<void(uint64_t done, uint64_t total)>;

struct StoreOptions {
  // Create the store if `path` holds none. Default false.
  bool create_if_missing = false;
  // Fail with kAlreadyExists if a store is there already. Default false.
  bool error_if_exists = false;
  // Reads only: every call that would write (save, tag, delete, gc other
  // than a dry run) fails with kNotSupported. This states intent; no Store
  // holds a lock between calls either way. Each read sees what is committed
  // when it starts.
  bool read_only = false;

  // Persisted. Bytes per chunk (rounded down to whole elements per tensor).
  // Smaller chunks find more unchanged bytes after sparse updates but cost
  // more index entries. Default 256 KiB; range 4 KiB .. 64 MiB.
  uint32_t chunk_size = 256 * 1024;
  // Persisted default for new chunks: zstd level, 1 (fast) .. 19 (small).
  int zstd_level = 3;

  // Persisted. A chunk that changed since the same chunk of the parent
  // checkpoint may be stored as a lossless delta against it when that is
  // smaller. A delta's base may itself be a delta; this bounds the chain, so
  // a load decodes at most this many bases per chunk. Deeper chains store
  // less after many small steps and cost more per load. When the parent's
  // chunk sits at the bound, the delta is taken against its base instead.
  // 0 disables deltas. Default 1; range 0 .. 16.
  int delta_max_depth = 1;
  // A pack is sealed once it holds about this many bytes. Default 32 MiB.
  // Larger packs mean fewer files and fsyncs, and more memory per save.
  uint64_t pack_target_size = 32ull << 20;
  // Worker threads for hashing, compression and reads; 0 = all cores.
  int threads = 0;
  // How long an operation waits for another process's short index session
  // (a save's commit, a gc step) before failing with kBusy. Default 60 s.
  int64_t lock_timeout_ms = 60000;
  // Run garbage collection (stored policies, default GcOptions but for the
  // grace period below) in a background thread after every this many
  // successful saves of this Store; 0 = never. Saves do not wait for it; a
  // gc still running when the next one is due is not started twice. Its
  // result is in Counters(). Default 0.
  uint32_t gc_every_saves = 0;
  // The grace period of those background collections, in seconds.
  int64_t auto_gc_grace_seconds = 3600;
  // Memory for Store::SaveAsync's copies of tensors and blobs (the staging
  // area). SaveAsync blocks while a request does not fit beside the saves
  // still queued; a request larger than this is saved synchronously. The
  // address range is reserved at the first SaveAsync; its pages become
  // resident as saves first use them and stay, for reuse, until the Store is
  // destroyed. So a Store that never calls SaveAsync costs nothing, and one
  // that does holds at most this much. Default 1 GiB.
  uint64_t async_staging_bytes = 1ull << 30;
  // Where packs and refs live; null = a local directory backend at `path`,
  // or an S3 backend (ckpt/s3.h) for an "s3://" path. Tests pass a
  // fault-injecting backend here.
  std::shared_ptr<Backend> backend;
  // A store in object storage ("s3://BUCKET/PREFIX"): the directory of this
  // host's copy of its index, a cache that is rebuilt from the bucket when
  // missing. Default (empty): $CKPT_CACHE_DIR, else $XDG_CACHE_HOME/ckpt,
  // else ~/.cache/ckpt, followed by /s3/BUCKET/PREFIX. Use a directory of
  // one host's own (not one shared over NFS by several hosts).
  std::string cache_dir;
};

struct SaveOptions {
  // Progress in logical bytes processed. May be null.
  ProgressFn progress;
  // Debugging aid: read and hash tensors marked unchanged_since_parent too,
  // and fail with kInvalidArgument naming the tensor if one has changed.
  bool check_unchanged_hints = false;
};

struct LoadOptions {
  // Progress in logical bytes loaded. May be null.
  ProgressFn progress;
};

struct VerifyOptions {
  // Also read every chunk of every checkpoint and check its hash; otherwise
  // check that the index is consistent and that every pack exists with the
  // size the index expects.
  bool read_data = false;
  // Progress in stored bytes (read_data) or checkpoints (metadata only).
  ProgressFn progress;
};

}  // namespace ckpt
