// ckpt/store.h: a content-addressed, deduplicating checkpoint store.
//
// A Store holds runs; a run is a series of checkpoints, each saved at a step.
// Save cuts every tensor into fixed-size chunks, names each chunk by the
// SHA-256 of its bytes, and writes only chunks the store does not hold yet,
// compressed, into pack files. A checkpoint becomes visible in one synced
// index commit after every byte it needs is durable. Load checks every byte it
// returns against its hash.
//
// Refs name a checkpoint in one of these forms:
//   RUN@STEP    the checkpoint of RUN at STEP
//   RUN         the latest (highest-step) checkpoint of RUN
//   TAG         a tag set with Tag()
//   HEXPREFIX   a unique prefix (at least 6 hex digits) of a checkpoint id
// A ref that matches nothing yields kNotFound; an ambiguous id prefix yields
// kInvalidArgument.
//
// Thread-safety: a Store is safe to use from many threads at once.
//
// Background saves: SaveAsync copies a request's bytes into a bounded
// staging area and returns; one background thread per Store then runs the
// staged saves one at a time, in the order SaveAsync was called. The
// Store's destructor waits for every queued save to finish.
//
// Locking: no Store keeps the index open between calls. Each call that
// reads opens a read-only view of what is committed at that moment; each
// call that writes (a save's commit, tag, delete, each step of gc) holds the
// store lock for one short session. So any number of Stores, in one process
// or many, may be open on one directory at once, and a trainer idle between
// saves holds nothing. A writer waits at most StoreOptions::lock_timeout_ms
// for another's session, then fails with kBusy.
//
// Concurrency matrix ("concurrent" = both proceed; sessions interleave):
//
//                 | same process              | across processes
//   --------------+---------------------------+------------------------------
//   save / save   | concurrent; a RUN@STEP is | concurrent; a RUN@STEP is
//                 | committed once (the other | committed once (the other
//                 | gets kAlreadyExists).     | gets kAlreadyExists)
//                 | SaveAsync saves of one    |
//                 | Store: one at a time, in  |
//                 | submission order          |
//   save / gc     | concurrent; a save never  | concurrent (cron gc beside a
//                 | loses a chunk to gc (it   | trainer): the same protocol,
//                 | rewrites any gc reclaimed)| see docs/design.md
//   gc / gc       | one at a time             | one at a time (gc.lock); the
//                 |                           | second waits, then kBusy
//   gc / load     | concurrent: a load sees a | concurrent: pack files live on
//                 | snapshot; files it reads  | for the grace period after gc
//                 | outlive it (grace period) | stops using them
//   save / load   | concurrent; loads see only committed checkpoints
//   verify / any  | concurrent (verify reads one snapshot)
//   repair / any  | repair holds the store lock throughout; others wait or get kBusy
//
// Stability: the API in this header is stable from 1.0 on; before 1.0 it may
// change between minor versions, noted in CHANGELOG.md. The on-disk format is
// versioned (version.h); stores written by a format version are readable by
// every later library version.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "ckpt/checkpoint.h"
#include "ckpt/checkpoint_reader.h"
#include "ckpt/export.h"
#include "ckpt/gc.h"
#include "ckpt/manifest.h"
#include "ckpt/options.h"
#include "ckpt/result.h"
#include "ckpt/retention.h"
#include "ckpt/save_handle.h"
#include "ckpt/stats.h"
#include "ckpt/status.h"

namespace ckpt {

// The settings a store was created with (persisted in its config).
struct StoreConfig {
  int format_version = 0;
  uint32_t chunk_size = 0;
  int zstd_level = 0;
  // Longest delta chain a new chunk may start (0: no deltas; see options.h).
  int delta_max_depth = 0;
  std::string store_id;  // random hex id chosen at creation
};

class CKPT_EXPORT Store {
 public:
  // Opens (or, with options.create_if_missing, creates) the store in
  // directory `path`, or in object storage if `path` is an
  // "s3://BUCKET/PREFIX" URL (ckpt/s3.h; the bucket must exist; many hosts
  // may open and write one such store at once). Errors: kNotFound (no store and not creating),
  // kAlreadyExists (options.error_if_exists), kVersionMismatch (store of a
  // newer format), kBusy (another process held the store lock for longer
  // than options.lock_timeout_ms),
  // kInvalidArgument (bad options), kCorruption, kIOError.
  static Result<std::unique_ptr<Store>> Open(const StoreOptions& options, const std::string& path);

  // Rebuilds the index of the store at `path` from its packs and refs alone,
  // replacing whatever index is there. Holds the store lock and the gc lock
  // throughout (kBusy if another process holds them past the timeout).
  // For a store in object storage, discards this host's copy of the index
  // and replays the bucket's index log instead (what a new host does).
  static Result<RepairReport> Repair(const StoreOptions& options, const std::string& path);

  // Waits for every save queued by SaveAsync to finish.
  virtual ~Store() = default;

  // Returns the persisted settings.
  virtual const StoreConfig& config() const = 0;

  // Saves a checkpoint of request.run at request.step and returns its info.
  // Reads the caller's buffers in place and copies nothing; they must not
  // change until Save returns. Errors: kAlreadyExists (RUN@STEP exists),
  // kInvalidArgument (bad names, sizes, duplicate entry names), kNotFound
  // (parent ref), kIOError/kNoSpace (the checkpoint is then not visible and
  // committed ones are untouched), kNotSupported (read-only store).
  virtual Result<CheckpointInfo> Save(const SaveRequest& request,
                                      const SaveOptions& options = {}) = 0;

  // Saves like Save, but in the background. Copies the bytes of the
  // request's tensors and blobs into this Store's staging area
  // (StoreOptions::async_staging_bytes) and returns as soon as the caller may
  // change or free its buffers; the returned handle gives the save's info or
  // error once it has run. The save never sees later writes to the buffers.
  //
  // Order: SaveAsync saves of one Store run one at a time, in the order of
  // the SaveAsync calls, so they commit in that order, and an empty
  // request.parent resolves (when the save runs) to the run's latest
  // checkpoint: the one submitted before, if that was saved and has the
  // highest step. A synchronous Save may commit between them.
  //
  // Back-pressure: blocks while the request does not fit in the staging area
  // beside the saves still queued. A request larger than the whole staging
  // area is not copied: SaveAsync waits for the saves queued before it, then
  // saves from the caller's buffers as Save does, and returns a handle that
  // is already Ready. A tensor marked unchanged_since_parent is not copied,
  // as the save reads none of its bytes, unless options.check_unchanged_hints
  // is set; so its buffer may change at once.
  //
  // Memory: at most async_staging_bytes of copies (kept for reuse until the
  // Store is destroyed), plus, per queued save, its names and metadata, plus
  // the working set of the one save running (as for Save).
  //
  // options.progress is called from the background thread; it, like the
  // rest of `options`, is copied. REQUIRES: not called from such a progress
  // callback (it could wait for itself). Errors returned at once:
  // kInvalidArgument (as Save), kNotSupported (read-only store), kIOError
  // (the staging area could not be reserved). Every other error of Save,
  // kAlreadyExists included, comes from SaveHandle::Wait.
  virtual Result<SaveHandle> SaveAsync(const SaveRequest& request,
                                       const SaveOptions& options = {}) = 0;

  // Returns the info of the checkpoint `ref` names. Errors: kNotFound,
  // kInvalidArgument (ambiguous prefix).
  virtual Result<CheckpointInfo> Resolve(const std::string& ref) = 0;

  // Returns the info and the entry list (tensors, blobs, chunk ids) of `ref`.
  virtual Result<CheckpointDetail> Describe(const std::string& ref) = 0;

  // Loads every tensor and blob of `ref` into memory, verifying every chunk.
  // Errors: kNotFound, kCorruption (names pack, chunk, checkpoint, tensor).
  virtual Result<LoadedCheckpoint> Load(const std::string& ref,
                                        const LoadOptions& options = {}) = 0;

  // Pins the checkpoint `ref` names for reading many of its entries with
  // one resolution and one index view. Errors: as Resolve.
  virtual Result<std::unique_ptr<CheckpointReader>> OpenCheckpoint(const std::string& ref) = 0;

  // Loads tensor or blob `name` of `ref` into `dst`, which holds `dst_size`
  // bytes. REQUIRES: dst_size equals the entry's byte length (else
  // kInvalidArgument). Errors: as Load.
  virtual Status LoadEntry(const std::string& ref, const std::string& name, void* dst,
                           size_t dst_size, const LoadOptions& options = {}) = 0;

  // Loads bytes [offset, offset+length) of tensor or blob `name` into `dst`,
  // reading only the chunks that overlap the range. Errors: kInvalidArgument
  // if the range passes the end; otherwise as Load.
  virtual Status LoadRange(const std::string& ref, const std::string& name, uint64_t offset,
                           uint64_t length, void* dst) = 0;
  // Loads the box at `offsets` of `shape` of tensor `name` of `ref` into
  // `dst` (row-major in the box's shape, `dst_size` bytes), decoding only
  // the chunks that overlap it: how a job of another world size reads its
  // own shard of a sharded checkpoint. Works on any tensor, sharded or not.
  // Errors: kInvalidArgument for a box outside the tensor, a wrong size or
  // a blob; kNotFound for a region no piece covers; otherwise as Load.
  virtual Status LoadBox(const std::string& ref, const std::string& name,
                         const std::vector<int64_t>& offsets, const std::vector<int64_t>& shape,
                         void* dst, size_t dst_size) = 0;

  // Lists all runs, sorted by name.
  virtual Result<std::vector<RunInfo>> ListRuns() = 0;

  // Lists the checkpoints of `run` by ascending step, or of every run (sorted
  // by run, then step) when `run` is empty. Errors: kNotFound (unknown run).
  virtual Result<std::vector<CheckpointInfo>> ListCheckpoints(const std::string& run) = 0;

  // Points tag `tag` at the checkpoint `ref` names. A tag name is
  // [A-Za-z0-9._-]+ and must not contain '@'. Errors: kAlreadyExists (tag
  // names another checkpoint), kNotFound, kInvalidArgument.
  virtual Status Tag(const std::string& ref, const std::string& tag) = 0;

  // Removes tag `tag`. Errors: kNotFound.
  virtual Status Untag(const std::string& tag) = 0;

  // Removes the checkpoint `ref` names from the index, and its tags. Its
  // chunks stay stored until garbage collection. Errors: kNotFound.
  virtual Status Delete(const std::string& ref) = 0;

  // Checks the store: every checkpoint's chunks are indexed and their packs
  // exist; with options.read_data every chunk is read and hashed. Returns a
  // report listing each problem with the checkpoints and tensors it touches;
  // a non-OK Result means verify itself could not run.
  virtual Result<VerifyReport> Verify(const VerifyOptions& options = {}) = 0;

  // Returns the sizes and counts of the whole store.
  virtual Result<StoreStats> Stats() = 0;

  // Returns this Store's operation counters (lock waits, sessions, saves).
  virtual StoreCounters Counters() const = 0;

  // Stores `policy` as the retention policy of `run`, or as the store-wide
  // default when `run` is empty. REQUIRES: !policy.empty() (else
  // kInvalidArgument). Errors: kInvalidArgument (bad run name).
  virtual Status SetPolicy(const std::string& run, const RetentionPolicy& policy) = 0;

  // Removes the policy of `run` ("" = the default). Errors: kNotFound.
  virtual Status UnsetPolicy(const std::string& run) = 0;

  // Returns the policy stored for `run` ("" = the default). Errors: kNotFound.
  virtual Result<RetentionPolicy> GetPolicy(const std::string& run) = 0;

  // Lists every stored policy as (run, policy); the default has run "".
  virtual Result<std::vector<std::pair<std::string, RetentionPolicy>>> ListPolicies() = 0;

  // Applies retention policies and reclaims space (see gc.h). A run with no
  // policy of its own uses the default; with neither, its checkpoints are all
  // kept. Tagged checkpoints are always kept. Safe to run while saves and
  // loads go on. Errors: kIOError/kNoSpace (gc stops; nothing kept is lost,
  // and the next gc completes the work), kCorruption (a pack to rewrite
  // fails its hashes: it is left alone), kNotSupported (read-only store).
  virtual Result<GcReport> Gc(const GcOptions& options = {}) = 0;
};

}  // namespace ckpt
