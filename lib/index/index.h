// index/index: the RocksDB database behind the key space of index_keys.h.
// Writes go through IndexBatch and commit with one synced write, which is
// the commit point of every mutation of the store.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "ckpt/result.h"
#include "index/index_keys.h"

namespace rocksdb {
class DB;
class Env;
class WriteBatch;
}  // namespace rocksdb

namespace ckpt::internal {

class DeadPackFilterFactory;

// Tests only: every Index opened from now on in this process does its file
// I/O through `env` (nullptr: the default), e.g. an IndexFaultInjector's.
void SetIndexEnvForTesting(rocksdb::Env* env);

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
  // Whether the batch holds no mutation.
  bool empty() const;
  // Calls put(key, value) or erase(key) for each mutation, in order.
  // Errors: kCorruption (a mutation of another kind).
  Status ForEach(const std::function<void(std::string_view, std::string_view)>& put,
                 const std::function<void(std::string_view)>& erase) const;

 private:
  std::unique_ptr<rocksdb::WriteBatch> rep_;
};

class Index {
 public:
  // Opens (creating if `create`) the database in directory `path`.
  // read_only opens see the state at open time and keep every table file
  // open, so later compactions by a writer cannot pull files from under
  // them. A database open read-write elsewhere yields kBusy.
  // Without `background_compactions`, RocksDB starts none in this
  // session: one that is about to compact everything (CompactAll) would
  // otherwise first wait for whichever the open started.
  static Result<std::unique_ptr<Index>> Open(const std::string& path, bool create, bool read_only,
                                             bool background_compactions = true);
  // Whether the database in `path` opens as a view: its manifest and log
  // read, its table files present with their recorded sizes; unlike a view,
  // it opens no table file (at 20 million chunks, a tenth of a `ckpt log`).
  // Errors: those of Open.
  static Status Probe(const std::string& path);
  // Releases the database without housekeeping; committed writes are
  // durable already (synced log). Call Close to report errors.
  ~Index();

  // What the housekeeping of a read-write Close does.
  enum class Housekeeping {
    kFull,       // flush a large write-ahead log; run a bounded share of the
                 // compactions due (at most ~0.25 s plus one job)
    kFlushOnly,  // flush a large write-ahead log; leave compactions to a
                 // later session (gc, which compacts everything at its end)
  };
  // Housekeeping that keeps later opens and reads fast (a read-write
  // database), then closes the database. Returns the first error; nothing
  // committed is lost by one. Call at most once; the object is then only
  // destroyed.
  Status Close(Housekeeping housekeeping = Housekeeping::kFull);

  // Makes the compactions of the closing housekeeping stop early, or not
  // start, while `should_yield` returns true (someone waits for the store
  // lock): a later session compacts instead. Polled every millisecond.
  void SetYield(std::function<bool()> should_yield) { should_yield_ = std::move(should_yield); }

  // Returns the value of `key`, or nullopt if absent.
  Result<std::optional<std::string>> Get(std::string_view key);
  // Where chunk `digest` is stored, or nullopt if it is not: a 'C' entry
  // counts only while its pack is indexed (has a 'P' key). Errors:
  // kCorruption (undecodable entry).
  Result<std::optional<ChunkLocation>> FindChunk(const Digest& digest);
  // FindChunk for each of `digests` (sorted, for speed), in one batched
  // lookup: out[i] is the answer for digests[i].
  Status FindChunks(const std::vector<Digest>& digests, size_t begin, size_t end,
                    std::vector<std::optional<ChunkLocation>>* out);
  // Whether pack `pack_id` (hex) is indexed. Answers are remembered until
  // the next Commit.
  Result<bool> HasPack(const std::string& pack_id);
  // Applies `batch` atomically with a synced WAL write. If a commit hook
  // is set, it runs first and may add to the batch; its error fails the
  // commit with nothing written.
  Status Commit(IndexBatch& batch);
  // Sets the hook of Commit (see there); the store in object storage
  // appends each batch to the bucket's index log with it.
  void SetCommitHook(std::function<Status(IndexBatch&)> hook) { commit_hook_ = std::move(hook); }
  // Compacts the whole database (read-write only). Chunk entries into
  // condemned or deleted packs are dropped on the way, and the 'G' keys
  // that have nothing left to do go. Stops early, with kBusy, once
  // *canceled turns true (if given); what it compacted by then stays.
  Status CompactAll(std::atomic<bool>* canceled = nullptr);
  // CompactAll that yields to waiters (see SetYield): kBusy, with what it
  // compacted by then kept, when someone waits for the store lock.
  Status CompactYielding();
  // Calls fn(key, value) for every key starting with `prefix`, in order,
  // until fn returns false.
  Status Scan(std::string_view prefix,
              const std::function<bool(std::string_view, std::string_view)>& fn);

 private:
  // Open, and Probe (no table file opened).
  static Result<std::unique_ptr<Index>> OpenWith(const std::string& path, bool create,
                                                 bool read_only, bool background_compactions,
                                                 bool probe);
  Index(rocksdb::DB* db, bool read_only, std::shared_ptr<DeadPackFilterFactory> filter);
  Status LoadDeadPacks();
  Status Tidy(Housekeeping housekeeping);
  // Whether RocksDB has compaction work to do or doing.
  bool CompactionsDue();
  // Runs RocksDB's compactions for a bounded time (see Tidy).
  Status CompactSome();
  Status ForgetCompactedGonePacks();

  std::shared_ptr<DeadPackFilterFactory> filter_;  // outlives db_
  std::unique_ptr<rocksdb::DB> db_;
  bool read_only_;
  std::function<bool()> should_yield_;
  std::function<Status(IndexBatch&)> commit_hook_;
  std::mutex pack_memo_mu_;
  std::unordered_map<std::string, bool> pack_memo_;
};

}  // namespace ckpt::internal
