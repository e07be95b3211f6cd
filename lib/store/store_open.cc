// store/store_open: Store::Open, the layout of a store directory, and the
// order in which a new store comes to exist: index first, config last, so
// that a crash in between leaves a directory that is not yet a store (the
// next init completes it), never a store without an index.
#include <unistd.h>

#include <algorithm>
#include <boost/filesystem.hpp>
#include <cstdlib>
#include <thread>

#include "backend/local_backend.h"
#include "ckpt/s3.h"
#include "ckpt/version.h"
#include "index/index_keys.h"
#include "index/store_lock.h"
#include "repo/config.h"
#include "repo/index_log.h"
#include "store/store_impl.h"

namespace fs = boost::filesystem;

namespace ckpt {
namespace internal {

namespace {

std::string DefaultCacheRoot() {
  if (const char* dir = std::getenv("CKPT_CACHE_DIR"); dir && *dir) return dir;
  if (const char* dir = std::getenv("XDG_CACHE_HOME"); dir && *dir)
    return std::string(dir) + "/ckpt";
  if (const char* home = std::getenv("HOME"); home && *home)
    return std::string(home) + "/.cache/ckpt";
  return "/tmp/ckpt-cache-" + std::to_string(::getuid());
}

}  // namespace

// A store in object storage (ctx->location): its backend, and this host's
// index cache (ctx->path).
Status OpenObjectStore(const StoreOptions& options, StoreContext* ctx) {
  CKPT_ASSIGN_OR_RETURN(S3Options s3, S3OptionsFromUrl(ctx->location));
  if (options.backend) {
    ctx->backend = options.backend;
  } else {
    CKPT_ASSIGN_OR_RETURN(ctx->backend, NewS3Backend(s3));
  }
  ctx->path = options.cache_dir;
  if (ctx->path.empty()) {
    ctx->path =
        DefaultCacheRoot() + "/s3/" + s3.bucket + (s3.prefix.empty() ? "" : "/" + s3.prefix);
  }
  ctx->shared_index = true;
  boost::system::error_code ec;
  fs::create_directories(ctx->path, ec);
  if (ec) return ErrnoStatus(ec.value(), "create index cache directory", ctx->path);
  return Status::OK();
}

namespace {

// Makes this host's index cache hold an index of this store: creates it
// when missing, starts over when it belongs to another store of the same
// name (a bucket emptied and used again), then catches up with the log.
Status PrepareIndexCache(StoreContext& ctx) {
  CKPT_ASSIGN_OR_RETURN(auto lock, StoreLock::Acquire(ctx.path, true, ctx.lock_timeout()));
  CKPT_ASSIGN_OR_RETURN(auto index, Index::Open(ctx.index_dir(), true, false, false));
  CKPT_ASSIGN_OR_RETURN(auto cached_id, index->Get(kCacheStoreIdKey));
  if (cached_id && *cached_id != ctx.config.store_id) {
    index.reset();
    boost::system::error_code ec;
    fs::remove_all(ctx.index_dir(), ec);
    if (ec) return ErrnoStatus(ec.value(), "remove stale index cache", ctx.index_dir());
    CKPT_ASSIGN_OR_RETURN(index, Index::Open(ctx.index_dir(), true, false, false));
    cached_id.reset();
  }
  if (!cached_id) {
    IndexBatch batch;
    batch.Put(kCacheStoreIdKey, ctx.config.store_id);
    CKPT_RETURN_IF_ERROR(index->Commit(batch));
  }
  return CatchUpFromLog(ctx, *index).WithContext("catch up with " + ctx.location);
}

// Threads for a store in object storage: a thread spends much of a read or
// an upload waiting for the server, so by default there are more threads
// than cores, to keep both the cores and the connection busy.
int RemoteThreadCount(int requested) {
  if (requested > 0) return requested;
  const int cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  return std::max(8, 2 * cores);
}

Result<std::unique_ptr<Store>> OpenWithIndexCache(std::unique_ptr<StoreContext> ctx) {
  const std::string& url = ctx->location;
  // The index is this host's cache, not part of the store: it is made (by
  // PrepareIndexCache) after the config, unlike a directory store's.
  auto config = LoadOrCreateConfig(*ctx->backend, ctx->options, url);
  if (!config.ok()) return config.status().WithContext("open store");
  ctx->config = *config;
  Status s = PrepareIndexCache(*ctx);
  if (!s.ok()) return s.WithContext("open store " + url);
  ctx->pool = std::make_unique<ThreadPool>(RemoteThreadCount(ctx->options.threads));
  return std::unique_ptr<Store>(new StoreImpl(std::move(ctx)));
}

}  // namespace

Result<std::shared_ptr<Backend>> OpenBackend(const StoreOptions& options, const std::string& path) {
  boost::system::error_code ec;
  if (!fs::is_directory(path, ec)) {
    if (!options.create_if_missing || options.read_only)
      return Status::NotFound("no ckpt store at " + path + " (run 'ckpt init' first)");
    fs::create_directories(path, ec);
    if (ec) return ErrnoStatus(ec.value(), "create store directory", path);
  }
  if (options.backend) return options.backend;
  return NewLocalBackend(path);
}

}  // namespace internal

Result<std::unique_ptr<Store>> Store::Open(const StoreOptions& options, const std::string& path) {
  using namespace internal;
  auto ctx = std::make_unique<StoreContext>();
  ctx->path = path;
  ctx->location = path;
  ctx->options = options;
  if (IsS3Url(path)) {
    Status s = OpenObjectStore(options, ctx.get());
    if (!s.ok()) return s.WithContext("open store " + path);
    return OpenWithIndexCache(std::move(ctx));
  }
  auto backend = OpenBackend(options, path);
  if (!backend.ok()) return backend.status().WithContext("open store");
  ctx->backend = *backend;
  boost::system::error_code ec;
  bool had_config = ctx->backend->Size(kConfigObject).ok();
  const std::string index_dir = IndexDirOf(path);
  auto create_index = [&]() -> Status {
    CKPT_ASSIGN_OR_RETURN(auto lock, StoreLock::Acquire(path, true, ctx->lock_timeout()));
    CKPT_ASSIGN_OR_RETURN(auto index, Index::Open(index_dir, true, false));
    return Status::OK();
  };
  auto config = LoadOrCreateConfig(*ctx->backend, options, path, create_index);
  if (!config.ok()) return config.status().WithContext("open store");
  ctx->config = *config;
  if (had_config) {
    if (!fs::exists(index_dir + "/CURRENT", ec))
      return Status::Corruption("store " + path + " has no index; run 'ckpt repair' to rebuild it");
    // Opened once now, so that a damaged index is reported here rather
    // than at the first operation.
    auto lock = StoreLock::Acquire(path, false, ctx->lock_timeout());
    if (!lock.ok()) return lock.status().WithContext("open store " + path);
    Status index = Index::Probe(index_dir);
    if (!index.ok()) return index.WithContext("open store " + path);
  }
  ctx->pool = std::make_unique<ThreadPool>(options.threads);
  return std::unique_ptr<Store>(new StoreImpl(std::move(ctx)));
}

}  // namespace ckpt
