#include "index/index.h"

#include <rocksdb/db.h>
#include <rocksdb/filter_policy.h>
#include <rocksdb/options.h>
#include <rocksdb/table.h>
#include <rocksdb/transaction_log.h>
#include <rocksdb/write_batch.h>

#include <chrono>
#include <cstdlib>
#include <system_error>
#include <thread>

#include "index/dead_pack_filter.h"

namespace ckpt::internal {
namespace {

Status FromRocks(const rocksdb::Status& s, const std::string& what) {
  if (s.ok()) return Status::OK();
  std::string msg = "index " + what + ": " + s.ToString();
  if (s.IsNotFound()) return Status::NotFound(msg);
  if (s.IsCorruption()) return Status::Corruption(msg);
  if (s.IsNoSpace()) return Status::NoSpace(msg);
  if (s.IsBusy() || s.IsTryAgain()) return Status::Busy(msg);
  // RocksDB reports a LOCK held by another process as an IOError.
  if (s.IsIOError() && s.ToString().find("lock") != std::string::npos)
    return Status::Busy("the store is open read-write in another process (" + msg + ")");
  return Status::IOError(msg);
}

std::atomic<rocksdb::Env*> index_env_for_testing{nullptr};

}  // namespace

void SetIndexEnvForTesting(rocksdb::Env* env) { index_env_for_testing = env; }

IndexBatch::IndexBatch() : rep_(std::make_unique<rocksdb::WriteBatch>()) {}
IndexBatch::~IndexBatch() = default;
void IndexBatch::Put(std::string_view key, std::string_view value) {
  rep_->Put(rocksdb::Slice(key.data(), key.size()), rocksdb::Slice(value.data(), value.size()));
}
void IndexBatch::Clear() { rep_->Clear(); }
void IndexBatch::Delete(std::string_view key) {
  rep_->Delete(rocksdb::Slice(key.data(), key.size()));
}

bool IndexBatch::empty() const { return rep_->Count() == 0; }

namespace {

class BatchVisitor : public rocksdb::WriteBatch::Handler {
 public:
  BatchVisitor(const std::function<void(std::string_view, std::string_view)>& put,
               const std::function<void(std::string_view)>& erase)
      : put_(put), erase_(erase) {}
  void Put(const rocksdb::Slice& key, const rocksdb::Slice& value) override {
    put_(std::string_view(key.data(), key.size()), std::string_view(value.data(), value.size()));
  }
  void Delete(const rocksdb::Slice& key) override {
    erase_(std::string_view(key.data(), key.size()));
  }

 private:
  const std::function<void(std::string_view, std::string_view)>& put_;
  const std::function<void(std::string_view)>& erase_;
};

}  // namespace

Status IndexBatch::ForEach(const std::function<void(std::string_view, std::string_view)>& put,
                           const std::function<void(std::string_view)>& erase) const {
  BatchVisitor visitor(put, erase);
  return FromRocks(rep_->Iterate(&visitor), "read index batch");
}

namespace {

// Opens a read-only view. Not through the single-family OpenForReadOnly:
// that one first tries to open the database as fully compacted, loading
// every table's handler, and on finding more than one level loads them all
// again (a quarter of a view's open on an index of 350 tables).
rocksdb::Status OpenView(const rocksdb::Options& options, const std::string& path,
                         rocksdb::DB** db) {
  std::vector<rocksdb::ColumnFamilyDescriptor> families = {
      {rocksdb::kDefaultColumnFamilyName, rocksdb::ColumnFamilyOptions(options)}};
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::Status s =
      rocksdb::DB::OpenForReadOnly(rocksdb::DBOptions(options), path, families, &handles, db);
  if (!s.ok()) return s;
  // The default family is used through the DB itself; its handle is not needed.
  for (rocksdb::ColumnFamilyHandle* h : handles) (*db)->DestroyColumnFamilyHandle(h);
  return s;
}

}  // namespace

Result<std::unique_ptr<Index>> Index::Open(const std::string& path, bool create, bool read_only,
                                           bool background_compactions) {
  return OpenWith(path, create, read_only, background_compactions, /*probe=*/false);
}

Status Index::Probe(const std::string& path) {
  return OpenWith(path, false, true, false, /*probe=*/true).status();
}

Result<std::unique_ptr<Index>> Index::OpenWith(const std::string& path, bool create, bool read_only,
                                               bool background_compactions, bool probe) {
  rocksdb::Options options;
  options.disable_auto_compactions = !background_compactions;
  if (rocksdb::Env* env = index_env_for_testing.load()) options.env = env;
  options.create_if_missing = create;
  options.paranoid_checks = true;
  options.max_open_files = probe ? 16 : read_only ? -1 : 256;
  options.keep_log_file_num = 4;
  // Each open loads the tables' handlers; with more than one thread for
  // that, RocksDB 7.8 starts max_file_opening_threads - 1 threads at every
  // open however few tables there are (16 by default: an export opened the
  // index three times and started 90 threads).
  options.max_file_opening_threads = 1;
  // Writers open for one short session each: replaying the log beats
  // writing a new table file at every open. Tidy() bounds the log instead.
  options.avoid_flush_during_recovery = true;
  options.info_log_level = rocksdb::InfoLogLevel::WARN_LEVEL;
  // Keys are mostly SHA-256 digests and values mostly digests and offsets:
  // nothing compresses, so compressing tables only costs CPU in every flush,
  // compaction and read.
  options.compression = rocksdb::kNoCompression;
  options.bottommost_compression = rocksdb::kNoCompression;
  // A save looks up every chunk it cuts, most of them new: a bloom filter
  // answers "not stored" without reading a block of each table.
  rocksdb::BlockBasedTableOptions table;
  table.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10));
  // A view reads a few keys (a run's checkpoints, one record), often in a
  // process of its own: loading every table's filter and index at open
  // would cost it time in proportion to the whole index (25 MB of filters
  // at 20 million chunks). Through the block cache they load when used.
  if (read_only) table.cache_index_and_filter_blocks = true;
  options.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table));
  // Compactions after a large gc sweep rewrite the chunk keys; use both
  // cores of a small machine.
  options.max_subcompactions = 2;
  // Compactions read tables in large sequential reads, not one pread of a
  // 4 KiB block each.
  options.compaction_readahead_size = 2 << 20;
  // Small tables and a small level 1, so that every compaction job of the
  // closing housekeeping (Tidy) is small: digests are spread evenly over
  // the key space, so a table of one level overlaps a tenth of the next
  // level's bytes, and a job rewrites about ten tables, ~90 MiB, whatever
  // the size of the index. A store of 20 million chunks kept 2.5 GiB of
  // index in 351 tables.
  options.target_file_size_base = 8 << 20;
  options.max_bytes_for_level_base = 64 << 20;
  options.level0_file_num_compaction_trigger = 4;
  auto filter = std::make_shared<DeadPackFilterFactory>();
  if (!read_only) options.compaction_filter_factory = filter;
  rocksdb::DB* db = nullptr;
  rocksdb::Status s =
      read_only ? OpenView(options, path, &db) : rocksdb::DB::Open(options, path, &db);
  if (!s.ok()) return FromRocks(s, "open " + path);
  std::unique_ptr<Index> index(new Index(db, read_only, std::move(filter)));
  if (!read_only) CKPT_RETURN_IF_ERROR(index->LoadDeadPacks());
  return index;
}

Index::Index(rocksdb::DB* db, bool read_only, std::shared_ptr<DeadPackFilterFactory> filter)
    : filter_(std::move(filter)), db_(db), read_only_(read_only) {}

Status Index::LoadDeadPacks() {
  auto dead = std::make_shared<PackIdSet>();
  for (const char* prefix : {"D", "G"}) {
    CKPT_RETURN_IF_ERROR(Scan(prefix, [&](std::string_view k, auto) {
      dead->insert(std::string(k.substr(1)));
      return true;
    }));
  }
  filter_->SetDeadPacks(std::move(dead));
  return Status::OK();
}

// After a full compaction no chunk entry points into a pack of the set the
// filter had: the 'G' keys of those packs, once their tombstones are gone
// (empty value), have nothing left to do.
Status Index::ForgetCompactedGonePacks() {
  auto dead = filter_->dead_packs();
  if (!dead || dead->empty()) return Status::OK();
  IndexBatch batch;
  bool any = false;
  CKPT_RETURN_IF_ERROR(Scan(kGoneKeys, [&](std::string_view k, std::string_view v) {
    if (v.empty() && dead->count(std::string(k.substr(1)))) {
      batch.Delete(k);
      any = true;
    }
    return true;
  }));
  return any ? Commit(batch) : Status::OK();
}

Status Index::Tidy(Housekeeping housekeeping) {
  // Every open replays the log into a memtable; keep that replay cheap.
  constexpr uint64_t kMaxMemtableBytes = 1 << 20;
  constexpr size_t kMaxLogFiles = 8;  // each session starts a new log file
  uint64_t memtable = 0;
  rocksdb::VectorLogPtr logs;
  bool many_logs = db_->GetSortedWalFiles(logs).ok() && logs.size() > kMaxLogFiles;
  if (many_logs || (db_->GetIntProperty("rocksdb.cur-size-all-mem-tables", &memtable) &&
                    memtable > kMaxMemtableBytes))
    CKPT_RETURN_IF_ERROR(FromRocks(db_->Flush(rocksdb::FlushOptions()), "flush"));
  return housekeeping == Housekeeping::kFull ? CompactSome() : Status::OK();
}

bool Index::CompactionsDue() {
  uint64_t pending = 0, running = 0;
  db_->GetIntProperty("rocksdb.compaction-pending", &pending);
  db_->GetIntProperty("rocksdb.num-running-compactions", &running);
  return pending > 0 || running > 0;
}

// Why not compact everything when level 0 grows, as this once did: the
// whole index is rewritten every few saves, and the cost of a save grows
// with the store (an index of 10 million chunks, 540 MiB, was rewritten
// every eighth save, and saves slowed to a quarter of their speed). RocksDB's
// own leveled compactions do the same job in small steps, each kept once it
// finishes; the session runs them for a bounded time and leaves the rest to
// the next one, so the work is spread over the saves.
Status Index::CompactSome() {
  // How long a closing session starts new compaction jobs; a job running
  // at the deadline is finished (~90 MiB of tables, see Open), not thrown
  // away.
  constexpr auto kBudget = std::chrono::milliseconds(250);
  if (!CompactionsDue()) return Status::OK();
  const auto yielding = [this] { return should_yield_ && should_yield_(); };
  if (yielding()) return Status::OK();  // a later session compacts
  CKPT_RETURN_IF_ERROR(
      FromRocks(db_->SetOptions({{"disable_auto_compactions", "false"}}), "start compactions"));
  const auto deadline = std::chrono::steady_clock::now() + kBudget;
  while (CompactionsDue() && !yielding() && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  CKPT_RETURN_IF_ERROR(
      FromRocks(db_->SetOptions({{"disable_auto_compactions", "true"}}), "stop compactions"));
  // A waiter does not sit through the running job: closing abandons it.
  uint64_t running = 0;
  while (!yielding() && db_->GetIntProperty("rocksdb.num-running-compactions", &running) &&
         running > 0)
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  return Status::OK();
}

Status Index::CompactYielding() {
  if (!should_yield_) return CompactAll();
  // A whole compaction of a large index can take seconds: never make a
  // waiting save sit through it.
  if (should_yield_()) return Status::Busy("index: compaction left to a later session");
  std::atomic<bool> canceled{false}, done{false};
  std::thread watcher;
  try {
    watcher = std::thread([&] {
      while (!done && !canceled) {
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
        if (should_yield_()) canceled = true;
      }
    });
  } catch (const std::system_error&) {  // no thread to watch with: compact later
    return Status::Busy("index: compaction left to a later session (no watcher thread)");
  }
  Status s = CompactAll(&canceled);
  done = true;
  watcher.join();
  return s;
}

Index::~Index() = default;

Status Index::Close(Housekeeping housekeeping) {
  if (!db_) return Status::OK();
  // Background work would be cut short by the close; do what matters now.
  Status s = read_only_ ? Status::OK() : Tidy(housekeeping).WithContext("index housekeeping");
  Status closed = FromRocks(db_->Close(), "close");
  db_.reset();
  return s.ok() ? closed : s;
}

Result<std::optional<std::string>> Index::Get(std::string_view key) {
  std::string value;
  rocksdb::Status s =
      db_->Get(rocksdb::ReadOptions(), rocksdb::Slice(key.data(), key.size()), &value);
  if (s.IsNotFound()) return std::optional<std::string>();
  if (!s.ok()) return FromRocks(s, "get");
  return std::optional<std::string>(std::move(value));
}

Status Index::CompactAll(std::atomic<bool>* canceled) {
  if (read_only_) return Status::NotSupported("index: compaction of a read-only view");
  // The set read at open misses the packs that this session condemned or
  // deleted; a fresh one lets this compaction drop their entries too.
  CKPT_RETURN_IF_ERROR(LoadDeadPacks());
  rocksdb::CompactRangeOptions options;
  // Every level, so that the filter sees every chunk entry, but each file
  // once: kForce compacted the bottommost level again right after the step
  // that wrote it (an 800k-entry index: 2.6 s instead of 1.4 s).
  options.bottommost_level_compaction = rocksdb::BottommostLevelCompaction::kForceOptimized;
  options.canceled = canceled;
  rocksdb::Status s = db_->CompactRange(options, nullptr, nullptr);
  if (canceled != nullptr && *canceled) return Status::Busy("index: compaction stopped early");
  CKPT_RETURN_IF_ERROR(FromRocks(s, "compact"));
  return ForgetCompactedGonePacks();
}

Result<bool> Index::HasPack(const std::string& pack_id) {
  {
    std::lock_guard<std::mutex> lock(pack_memo_mu_);
    auto it = pack_memo_.find(pack_id);
    if (it != pack_memo_.end()) return it->second;
  }
  CKPT_ASSIGN_OR_RETURN(auto record, Get(PackKey(pack_id)));
  std::lock_guard<std::mutex> lock(pack_memo_mu_);
  pack_memo_[pack_id] = record.has_value();
  return record.has_value();
}

Result<std::optional<ChunkLocation>> Index::FindChunk(const Digest& digest) {
  CKPT_ASSIGN_OR_RETURN(auto value, Get(ChunkKey(digest)));
  if (!value) return std::optional<ChunkLocation>();
  ChunkLocation loc;
  CKPT_RETURN_IF_ERROR(
      DecodeChunkLocation(*value, &loc).WithContext("index entry of chunk " + digest.ShortHex()));
  CKPT_ASSIGN_OR_RETURN(bool indexed, HasPack(loc.pack_id));
  if (!indexed) return std::optional<ChunkLocation>();
  return std::optional<ChunkLocation>(std::move(loc));
}

Status Index::FindChunks(const std::vector<Digest>& digests, size_t begin, size_t end,
                         std::vector<std::optional<ChunkLocation>>* out) {
  const size_t n = end - begin;
  out->assign(n, std::nullopt);
  std::vector<std::string> keys(n);
  std::vector<rocksdb::Slice> slices(n);
  for (size_t i = 0; i < n; ++i) {
    keys[i] = ChunkKey(digests[begin + i]);
    slices[i] = rocksdb::Slice(keys[i]);
  }
  std::vector<rocksdb::PinnableSlice> values(n);
  std::vector<rocksdb::Status> statuses(n);
  db_->MultiGet(rocksdb::ReadOptions(), db_->DefaultColumnFamily(), n, slices.data(), values.data(),
                statuses.data(), /*sorted_input=*/true);
  for (size_t i = 0; i < n; ++i) {
    if (statuses[i].IsNotFound()) continue;
    CKPT_RETURN_IF_ERROR(FromRocks(statuses[i], "get"));
    ChunkLocation loc;
    CKPT_RETURN_IF_ERROR(
        DecodeChunkLocation(std::string_view(values[i].data(), values[i].size()), &loc)
            .WithContext("index entry of chunk " + digests[begin + i].ShortHex()));
    CKPT_ASSIGN_OR_RETURN(bool indexed, HasPack(loc.pack_id));
    if (indexed) (*out)[i] = std::move(loc);
  }
  return Status::OK();
}

Status Index::Commit(IndexBatch& batch) {
  if (commit_hook_) CKPT_RETURN_IF_ERROR(commit_hook_(batch));
  rocksdb::WriteOptions options;
  options.sync = true;
  Status s = FromRocks(db_->Write(options, &batch.rep()), "commit");
  std::lock_guard<std::mutex> lock(pack_memo_mu_);
  pack_memo_.clear();  // the batch may have added or removed packs
  return s;
}

Status Index::Scan(std::string_view prefix,
                   const std::function<bool(std::string_view, std::string_view)>& fn) {
  rocksdb::ReadOptions options;
  options.fill_cache = false;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(options));
  rocksdb::Slice p(prefix.data(), prefix.size());
  for (it->Seek(p); it->Valid() && it->key().starts_with(p); it->Next()) {
    if (!fn(std::string_view(it->key().data(), it->key().size()),
            std::string_view(it->value().data(), it->value().size())))
      break;
  }
  return FromRocks(it->status(), "scan");
}

}  // namespace ckpt::internal
