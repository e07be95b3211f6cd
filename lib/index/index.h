// index/index: the RocksDB database behind the key space of index_keys.h.
// Writes go through IndexBatch and commit with one synced write, which is
// the commit point of every mutation of the store.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "ckpt/result.h"
#include "index/index_keys.h"

namespace rocksdb {
class DB;
class WriteBatch;
}  // namespace rocksdb

namespace ckpt::internal {

// Mutations to commit together.
class IndexBatch {
 public:
  IndexBatch();
  ~IndexBatch();
  void Put(std::string_view key, std::string_view value);
  void Delete(std::string_view key);
  // Drops every mutation, leaving an empty batch.
  void Clear();
  rocksdb::WriteBatch& rep() { return *rep_; }

 private:
  std::unique_ptr<rocksdb::WriteBatch> rep_;
};

class Index {
 public:
  // Opens (creating if `create`) the database in directory `path`.
  // read_only opens see the state at open time and keep every table file
  // open, so later compactions by a writer cannot pull files from under
  // them. A database open read-write elsewhere yields kBusy.
  static Result<std::unique_ptr<Index>> Open(const std::string& path, bool create,
                                             bool read_only);
  // Closes a read-write database after housekeeping that keeps later opens
  // fast (flushing a large write-ahead log, compacting many level-0 files).
  ~Index();

  // Returns the value of `key`, or nullopt if absent.
  Result<std::optional<std::string>> Get(std::string_view key);
  // Applies `batch` atomically with a synced WAL write.
  Status Commit(IndexBatch& batch);
  // Calls fn(key, value) for every key starting with `prefix`, in order,
  // until fn returns false.
  Status Scan(std::string_view prefix,
              const std::function<bool(std::string_view, std::string_view)>& fn);

 private:
  Index(rocksdb::DB* db, bool read_only);
  void Tidy();
  std::unique_ptr<rocksdb::DB> db_;
  bool read_only_;
};

}  // namespace ckpt::internal
