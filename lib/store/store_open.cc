// store/store_open: Store::Open, the layout of a store directory, and the
// order in which a new store comes to exist: index first, config last, so
// that a crash in between leaves a directory that is not yet a store (the
// next init completes it), never a store without an index.
#include <boost/filesystem.hpp>

#include "backend/local_backend.h"
#include "ckpt/version.h"
#include "index/store_lock.h"
#include "repo/config.h"
#include "store/store_impl.h"

namespace fs = boost::filesystem;

namespace ckpt {
namespace internal {

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
  ctx->options = options;
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
    auto index = Index::Open(index_dir, false, true);
    if (!index.ok()) return index.status().WithContext("open store " + path);
  }
  ctx->pool = std::make_unique<ThreadPool>(options.threads);
  return std::unique_ptr<Store>(new StoreImpl(std::move(ctx)));
}

}  // namespace ckpt
