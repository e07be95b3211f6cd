#include "index/index.h"

#include <rocksdb/db.h>
#include <rocksdb/filter_policy.h>
#include <rocksdb/options.h>
#include <rocksdb/table.h>
#include <rocksdb/transaction_log.h>
#include <rocksdb/write_batch.h>

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

}  // namespace

IndexBatch::IndexBatch() : rep_(std::make_unique<rocksdb::WriteBatch>()) {}
IndexBatch::~IndexBatch() = default;
void IndexBatch::Put(std::string_view key, std::string_view value) {
  rep_->Put(rocksdb::Slice(key.data(), key.size()), rocksdb::Slice(value.data(), value.size()));
}
void IndexBatch::Clear() { rep_->Clear(); }
void IndexBatch::Delete(std::string_view key) {
  rep_->Delete(rocksdb::Slice(key.data(), key.size()));
}

Result<std::unique_ptr<Index>> Index::Open(const std::string& path, bool create,
                                           bool read_only) {
  rocksdb::Options options;
  options.create_if_missing = create;
  options.paranoid_checks = true;
  options.max_open_files = read_only ? -1 : 256;
  options.keep_log_file_num = 4;
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
  options.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table));
  // Compactions after a large gc sweep rewrite the chunk keys; use both
  // cores of a small machine.
  options.max_subcompactions = 2;
  rocksdb::DB* db = nullptr;
  rocksdb::Status s = read_only ? rocksdb::DB::OpenForReadOnly(options, path, &db)
                                : rocksdb::DB::Open(options, path, &db);
  if (!s.ok()) return FromRocks(s, "open " + path);
  return std::unique_ptr<Index>(new Index(db, read_only));
}

Index::Index(rocksdb::DB* db, bool read_only) : db_(db), read_only_(read_only) {}

void Index::Tidy() {
  // Every open replays the log into a memtable; keep that replay cheap.
  constexpr uint64_t kMaxMemtableBytes = 1 << 20;
  constexpr uint64_t kMaxLevel0Files = 8;
  constexpr size_t kMaxLogFiles = 8;  // each session starts a new log file
  uint64_t memtable = 0, level0 = 0;
  rocksdb::VectorLogPtr logs;
  bool many_logs = db_->GetSortedWalFiles(logs).ok() && logs.size() > kMaxLogFiles;
  if (many_logs || (db_->GetIntProperty("rocksdb.cur-size-all-mem-tables", &memtable) &&
                    memtable > kMaxMemtableBytes))
    (void)db_->Flush(rocksdb::FlushOptions());
  if (db_->GetIntProperty("rocksdb.num-files-at-level0", &level0) && level0 > kMaxLevel0Files)
    (void)db_->CompactRange(rocksdb::CompactRangeOptions(), nullptr, nullptr);
}

Index::~Index() {
  if (!db_) return;
  // Background work would be cut short by the close; do what matters now.
  if (!read_only_) Tidy();
  (void)db_->Close();
}

Result<std::optional<std::string>> Index::Get(std::string_view key) {
  std::string value;
  rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), rocksdb::Slice(key.data(), key.size()),
                               &value);
  if (s.IsNotFound()) return std::optional<std::string>();
  if (!s.ok()) return FromRocks(s, "get");
  return std::optional<std::string>(std::move(value));
}

Status Index::Commit(IndexBatch& batch) {
  rocksdb::WriteOptions options;
  options.sync = true;
  return FromRocks(db_->Write(options, &batch.rep()), "commit");
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
